#include "test_gateway.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <memory>
#include <stdexcept>

#include "config.hpp"
#include "plugin_loader.hpp"

namespace ci::test {

std::string gateway_toml(const std::string& instance, const TestGatewayOptions& options) {
    std::string toml = "log_level = \"warn\"\n"
                       "[server]\nport = 0\n" + options.server_toml + "\n"
                       "[pool]\nmin_idle_workers = " + std::to_string(options.min_idle) +
                       "\nmax_total_workers = " + std::to_string(options.max_total) +
                       "\nacquire_timeout = 60\nstate_file = \"" + state_file_of(instance) +
                       "\"\ndrain_timeout = " + std::to_string(options.drain_timeout_s) +
                       "\nkeep_workers_on_stop = " + (options.keep_workers_on_stop ? "true" : "false") + "\n" +
                       (options.follow_arrivals ? "" : "arrival_window = 0\n") +
                       options.pool_toml + "\n"
                       "[execution]\ntimeout = " + std::to_string(options.timeout_s) + "\n" +
                       options.execution_toml + "\n" +
                       "[worker]\n" + (options.preload ? "" : "preload = []\n") + options.worker_toml + "\n" +
                       options.extra_toml +
                       "\n[plugins.auth-token]\npath = \"" CI_BUILD_DIR "/plugins/libci_auth_token.so\"\n"
                       "token = \"" + kUserToken + "\"\nadmin_token = \"" + kAdminToken + "\"\n" + options.auth_toml + "\n" +
                       (options.isolation_toml.empty()
                            ? "[plugins.docker-backend]\npath = \"" CI_BUILD_DIR "/plugins/libci_docker_backend.so\"\n"
                              "instance = \"" + instance + "\"\n" +
                                  // a test that names its image keeps it
                                  (options.backend_toml.find("image =") == std::string::npos ? worker_image_setting()
                                                                                              : std::string()) +
                                  options.backend_toml
                            : options.isolation_toml) +
                       "\n" + options.plugins_toml;
    if (options.loop_disk)
        toml += "\n[plugins.loop-disk]\npath = \"" CI_BUILD_DIR "/plugins/libci_loop_disk_storage.so\"\n"
                "instance = \"" + instance + "\"\n" + options.loop_disk_toml;
    return toml;
}

std::string worker_image_setting() {
    const char* image = std::getenv("CI_TEST_WORKER_IMAGE");
    return image && *image ? std::string("image = \"") + image + "\"\n" : std::string();
}

std::string instance_name(const std::string& name) { return "t" + std::to_string(::getpid()) + "-" + name; }

TestGateway::TestGateway(const std::string& name, TestGatewayOptions options) : instance_(instance_name(name)) {
    GatewayConfig config = parse_config(gateway_toml(instance_, options), CI_SOURCE_DIR);
    validate(config);
    gateway_ = std::make_unique<Gateway>(config, load_plugins(config));
    gateway_->start();
}

TestGateway::~TestGateway() { stop(); }

void TestGateway::stop() {
    if (!gateway_) return;
    gateway_->stop();
    // The backend keeps its per-instance directory; it is empty once every worker is gone.
    std::error_code ec;
    std::filesystem::remove(run_dir_of(instance_), ec);
}

std::string TestGateway::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(gateway_->port()) + path;
}

namespace {

int count_lines(const std::string& command) {
    std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) throw std::runtime_error("cannot run " + command);
    int lines = 0;
    std::array<char, 256> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) ++lines;
    return lines;
}

}  // namespace

int count_containers(const std::string& instance) {
    return count_lines("docker ps -aq --filter label=code-interpreter.instance=" + instance + " 2>/dev/null");
}

int count_networks(const std::string& instance) {
    return count_lines("docker network ls -q --filter label=code-interpreter.instance=" + instance + " 2>/dev/null");
}

std::string run_dir_of(const std::string& instance) { return "/run/code-interpreter/" + instance; }

std::string state_file_of(const std::string& instance) {
    return (std::filesystem::temp_directory_path() / ("ci-" + instance + "-pool-state.json")).string();
}

std::string TestGateway::state_file() const { return state_file_of(instance_); }

std::string volume_leftovers(const std::string& instance) {
    namespace fs = std::filesystem;
    const std::string prefix = instance + "-";
    std::ostringstream out;
    std::ifstream mounts("/proc/self/mounts");
    for (std::string line; std::getline(mounts, line);)
        if (line.find("/run/code-interpreter-disks/" + prefix) != std::string::npos) out << "mount " << line << "\n";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/sys/block", ec)) {
        std::ifstream backing(entry.path() / "loop/backing_file");
        std::string file;
        if (std::getline(backing, file) && file.find("/" + prefix) != std::string::npos)
            out << "loop " << entry.path().filename().string() << " " << file << "\n";
    }
    for (const auto& entry : fs::directory_iterator("/var/lib/code-interpreter/disks", ec))
        if (entry.path().filename().string().rfind(prefix, 0) == 0) out << "image " << entry.path().string() << "\n";
    return out.str();
}

}  // namespace ci::test
