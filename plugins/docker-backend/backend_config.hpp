#pragma once
// The [plugins.docker-backend] table of config.toml, parsed and checked.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ci::docker {

struct BackendConfig {
    std::string socket = "/var/run/docker.sock";       // Docker Engine API unix socket
    std::string image = "code-interpreter-worker:latest";
    std::string instance = "default";                  // label value scoping this gateway's workers
    std::string run_dir = "/run/code-interpreter";     // host dir for per-worker socket dirs
    std::uint32_t agent_uid = 990;                     // owner of the per-worker dir (image's ci-agent)
    std::uint32_t agent_gid = 990;
    std::uint32_t kernel_uid = 1000;                   // owner of the in-memory workspace (image's sandbox)
    std::uint32_t kernel_gid = 1000;
    std::string container_name_prefix = "ci-worker";
    std::uint64_t nofile_limit = 1024;
};

// Longest agent socket path accepted (sun_path holds 108 bytes; keep a margin).
inline constexpr std::size_t kMaxSocketPathBytes = 99;

// Parses the plugin's table (null or an object). Relative paths are resolved against config_dir.
// Throws std::invalid_argument whose what() names the key (as "<table>.<key>") and the problem.
// `table` is the name used in messages, e.g. "plugins.docker-backend".
BackendConfig parse_backend_config(const nlohmann::json& config, const std::string& config_dir,
                                   const std::string& table = "plugins.docker-backend");

}  // namespace ci::docker
