#pragma once
// Where the kernel listens: ipc sockets in the kernel directory, at fixed "ports".
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace ci::agent {

struct ConnectionInfo {
    // With the ipc transport ipykernel binds "<ip>-<port>", so the ports only name socket files.
    static constexpr int kShellPort = 1;
    static constexpr int kIopubPort = 2;
    static constexpr int kStdinPort = 3;
    static constexpr int kControlPort = 4;
    static constexpr int kHeartbeatPort = 5;

    std::filesystem::path kernel_dir;
    std::string key;  // the kernel's HMAC key

    std::filesystem::path connection_file() const;  // <kernel_dir>/kernel.json
    std::string ip() const;                          // <kernel_dir>/k
    std::string endpoint(int port) const;            // ipc://<kernel_dir>/k-<port>
    nlohmann::json to_json() const;                  // the connection file's content
};

}  // namespace ci::agent
