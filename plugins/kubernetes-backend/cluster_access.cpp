#include "cluster_access.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ci::kube {

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string trimmed(std::string s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string env_value(const std::map<std::string, std::string>& env, const char* name) {
    const auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
}

}  // namespace

ClusterAccess resolve_cluster_access(const ExplicitAccess& given, const std::map<std::string, std::string>& env,
                                     const std::string& service_account_dir) {
    ClusterAccess out{given.api_url, given.token_file, given.ca_file, given.namespace_};
    if (out.api_url.empty()) {
        const std::string host = env_value(env, "KUBERNETES_SERVICE_HOST");
        const std::string port = env_value(env, "KUBERNETES_SERVICE_PORT");
        if (host.empty() || port.empty())
            throw std::invalid_argument(
                "api_url is not set and KUBERNETES_SERVICE_HOST/PORT are not in the environment (not in a pod): "
                "set api_url, token_file, ca_file and namespace");
        // An IPv6 service address goes in brackets.
        out.api_url = "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
    }
    while (!out.api_url.empty() && out.api_url.back() == '/') out.api_url.pop_back();
    if (out.api_url.rfind("https://", 0) != 0)
        throw std::invalid_argument("api_url must be an https:// URL, got " + out.api_url);
    if (out.token_file.empty()) out.token_file = service_account_dir + "/token";
    if (out.ca_file.empty()) out.ca_file = service_account_dir + "/ca.crt";
    if (out.namespace_.empty()) {
        try {
            out.namespace_ = trimmed(read_file(service_account_dir + "/namespace"));
        } catch (const std::runtime_error&) {
            throw std::invalid_argument("namespace is not set and " + service_account_dir +
                                        "/namespace cannot be read (not in a pod): set namespace");
        }
        if (out.namespace_.empty()) throw std::invalid_argument(service_account_dir + "/namespace is empty");
    }
    return out;
}

std::string BearerToken::get() {
    std::lock_guard lock(mu_);
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) throw std::runtime_error("cannot read the API token " + path_);
    const bool changed = !read_mtime_ || st.st_ino != read_inode_ || st.st_mtim.tv_sec != read_mtime_->tv_sec ||
                         st.st_mtim.tv_nsec != read_mtime_->tv_nsec;
    if (changed) {
        std::string token = trimmed(read_file(path_));
        if (token.empty()) throw std::runtime_error("the API token " + path_ + " is empty");
        token_ = std::move(token);
        read_mtime_ = st.st_mtim;
        read_inode_ = st.st_ino;
    }
    return token_;
}

}  // namespace ci::kube
