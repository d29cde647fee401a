#include "code_interpreter/agent/connection_info.hpp"

namespace ci::agent {

std::filesystem::path ConnectionInfo::connection_file() const {
    return kernel_dir / "kernel.json";
}

std::string ConnectionInfo::ip() const { return (kernel_dir / "k").string(); }

std::string ConnectionInfo::endpoint(int port) const {
    return "ipc://" + ip() + "-" + std::to_string(port);
}

nlohmann::json ConnectionInfo::to_json() const {
    return {
        {"transport", "ipc"},
        {"ip", ip()},
        {"shell_port", kShellPort},
        {"iopub_port", kIopubPort},
        {"stdin_port", kStdinPort},
        {"control_port", kControlPort},
        {"hb_port", kHeartbeatPort},
        {"key", key},
        {"signature_scheme", "hmac-sha256"},
        {"kernel_name", "python3"},
    };
}

}  // namespace ci::agent
