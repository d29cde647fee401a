#include "test_gateway.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "config.hpp"
#include "plugin_loader.hpp"

namespace ci::test {

TestGateway::TestGateway(const std::string& name, TestGatewayOptions options)
    : instance_("t" + std::to_string(::getpid()) + "-" + name) {
    std::string toml = "log_level = \"warn\"\n"
                       "[server]\nport = 0\n"
                       "[pool]\nmin_idle_workers = " + std::to_string(options.min_idle) +
                       "\nmax_total_workers = " + std::to_string(options.max_total) +
                       "\nacquire_timeout = 60\n"
                       "[execution]\ntimeout = " + std::to_string(options.timeout_s) + "\n" +
                       options.extra_toml +
                       "\n[plugins.auth-token]\npath = \"" CI_BUILD_DIR "/plugins/libci_auth_token.so\"\n"
                       "token = \"" + kUserToken + "\"\nadmin_token = \"" + kAdminToken + "\"\n"
                       "[plugins.docker-backend]\npath = \"" CI_BUILD_DIR "/plugins/libci_docker_backend.so\"\n"
                       "instance = \"" + instance_ + "\"\n" + options.backend_toml + "\n" + options.plugins_toml;
    GatewayConfig config = parse_config(toml, CI_SOURCE_DIR);
    validate(config);
    gateway_ = std::make_unique<Gateway>(config, load_plugins(config));
    gateway_->start();
}

TestGateway::~TestGateway() { stop(); }

void TestGateway::stop() {
    if (gateway_) gateway_->stop();
}

std::string TestGateway::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(gateway_->port()) + path;
}

int count_containers(const std::string& instance) {
    std::string command = "docker ps -aq --filter label=code-interpreter.instance=" + instance + " 2>/dev/null";
    std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) throw std::runtime_error("cannot run docker ps");
    int lines = 0;
    std::array<char, 256> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) ++lines;
    return lines;
}

std::string run_dir_of(const std::string& instance) { return "/run/code-interpreter/" + instance; }

}  // namespace ci::test
