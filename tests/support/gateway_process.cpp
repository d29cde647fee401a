#include "gateway_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ci::test {

GatewayProcess::GatewayProcess(const std::string& name, const std::string& config_toml) {
    auto dir = std::filesystem::temp_directory_path();
    config_path_ = (dir / ("ci-" + name + ".toml")).string();
    log_path_ = (dir / ("ci-" + name + ".log")).string();
    std::ofstream(config_path_) << config_toml;
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(log, 1);
        ::dup2(log, 2);
        ::execl(CI_BUILD_DIR "/bin/ci-gateway", "ci-gateway", "--config", config_path_.c_str(), "--log-level", "info",
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    const std::regex listening("listening on http://[^:]+:([0-9]+)");
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < until) {
        std::smatch m;
        std::string text = log();
        if (std::regex_search(text, m, listening)) {
            port_ = std::stoi(m[1]);
            return;
        }
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("ci-gateway exited at start:\n" + text);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill_hard();
    throw std::runtime_error("ci-gateway did not listen within 60 s:\n" + log());
}

GatewayProcess::~GatewayProcess() {
    terminate();
    std::filesystem::remove(config_path_);
    std::filesystem::remove(log_path_);
}

std::string GatewayProcess::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void GatewayProcess::kill_hard() {
    if (pid_ < 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

int GatewayProcess::terminate() {
    if (pid_ < 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string GatewayProcess::log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace ci::test
