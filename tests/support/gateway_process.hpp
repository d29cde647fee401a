#pragma once
// The real ci-gateway binary in a child process, for tests that must kill it (-9) like a crash.
#include <sys/types.h>

#include <string>

namespace ci::test {

class GatewayProcess {
public:
    // Writes config_toml to a file and starts build/bin/ci-gateway with it; returns once it
    // listens. Throws std::runtime_error (with its log) when it does not within 60 s.
    GatewayProcess(const std::string& name, const std::string& config_toml);
    ~GatewayProcess();  // SIGTERM, then waits
    std::string url(const std::string& path) const;
    // SIGKILL: no shutdown code runs.
    void kill_hard();
    // SIGTERM and wait; returns the exit status.
    int terminate();
    std::string log() const;

private:
    std::string config_path_;
    std::string log_path_;
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace ci::test
