#include "token_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "code_interpreter/fd/unique_fd.hpp"
#include "code_interpreter/crypto/crypto.hpp"

namespace ci::auth {
namespace {

using ci::fd::UniqueFd;


std::runtime_error file_error(const std::string& what, const std::string& path) {
    return std::runtime_error(what + " '" + path + "': " + std::strerror(errno));
}

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t start = 0;
    while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
    return s.substr(start);
}

// The whole file, refused when others may read it.
std::string read_private_file(const std::string& path, std::size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw file_error("cannot open token file", path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw file_error("cannot stat token file", path);
    if (!S_ISREG(st.st_mode)) throw std::runtime_error("token file '" + path + "' is not a regular file");
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        throw std::runtime_error("token file '" + path +
                                 "' is readable by others: chmod 600 it");
    std::string content;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
        content.append(buf, static_cast<std::size_t>(n));
        if (content.size() > max_bytes) throw std::runtime_error("token file '" + path + "' is too large");
    }
    if (n < 0) throw file_error("cannot read token file", path);
    return content;
}

std::string read_token(const std::string& path) {
    std::string content = trim(read_private_file(path, 4096));
    if (content.size() < 16)
        throw std::runtime_error("token in '" + path + "' is shorter than 16 characters");
    return content;
}

}  // namespace

std::string load_or_create_token(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return read_token(path);

    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::filesystem::create_directories(parent, ec);
        if (ec) throw std::runtime_error("cannot create directory '" + parent.string() + "': " + ec.message());
    }
    std::string token = crypto::random_hex(32);
    // O_EXCL: two gateways starting at once must not overwrite each other's token.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
        if (errno == EEXIST) return read_token(path);
        throw file_error("cannot create token file", path);
    }
    std::string line = token + "\n";
    if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fsync(fd.get()) != 0)
        throw file_error("cannot write token file", path);
    return token;
}

std::vector<std::pair<std::string, std::string>> read_tenant_tokens(const std::string& path) {
    std::vector<std::pair<std::string, std::string>> tenants;
    const std::string content = read_private_file(path, 1 << 20);
    std::size_t number = 0;
    for (std::size_t start = 0; start < content.size();) {
        std::size_t end = content.find('\n', start);
        if (end == std::string::npos) end = content.size();
        std::string line = trim(content.substr(start, end - start));
        start = end + 1;
        ++number;
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.find_first_of(" \t");
        if (space == std::string::npos)
            throw std::runtime_error("token file '" + path + "' line " + std::to_string(number) +
                                     ": expected '<tenant name> <token>'");
        tenants.emplace_back(line.substr(0, space), trim(line.substr(space)));
    }
    return tenants;
}

}  // namespace ci::auth
