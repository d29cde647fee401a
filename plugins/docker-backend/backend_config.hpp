#pragma once
// The [plugins.docker-backend] table of config.toml, parsed and checked.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ci::docker {

// How a worker is connected (keys `network` and `enable_internet`).
enum class NetworkMode {
    none,      // network mode none: loopback only; the gateway uses the ipc socket in the run dir
    internal,  // an internal bridge (no route out); the agent listens on TCP behind its firewall
    internet,  // a NAT bridge; the agent's firewall lets new connections go to public addresses only
};

// The ids of the image's users (docker/Dockerfile, which records them in the image's labels
// code-interpreter.agent-ids and .kernel-ids): in 2000200000..2147352575, which no distribution,
// systemd, nor SSSD's or FreeIPA's automatic ranges hand out, so no host account shares them
// (docs/security.md, "Identities").
inline constexpr std::uint32_t kImageAgentId = 2100000990;   // ci-agent
inline constexpr std::uint32_t kImageKernelId = 2100001000;  // sandbox

struct BackendConfig {
    std::string socket = "/var/run/docker.sock";       // Docker Engine API unix socket
    std::string image = "code-interpreter-worker:latest";
    std::string instance = "default";                  // label value scoping this gateway's workers
    std::string run_dir = "/run/code-interpreter";     // host dir for per-worker socket dirs
    std::uint32_t agent_uid = kImageAgentId;           // owner of the per-worker dir (image's ci-agent)
    std::uint32_t agent_gid = kImageAgentId;
    std::uint32_t kernel_uid = kImageKernelId;         // owner of the workspace (image's sandbox)
    std::uint32_t kernel_gid = kImageKernelId;
    std::string container_name_prefix = "ci-worker";
    std::uint64_t nofile_limit = 1024;
    // Block-I/O limits of a worker on its workspace volume's device (0: none). cgroup v1 throttles
    // reads and direct writes; buffered writes reach the disk through the host's writeback, which
    // cgroup v1 does not charge to the worker (cgroup v2 does).
    std::uint64_t disk_read_mb_per_s = 200;
    std::uint64_t disk_write_mb_per_s = 100;
    std::uint64_t disk_read_iops = 2000;
    std::uint64_t disk_write_iops = 1000;
    NetworkMode network = NetworkMode::none;
    // The workers' bridge network in the networked modes: a private IPv4 range outside Docker's
    // default address pools (172.17.0.0/16-172.31.0.0/16 and 192.168.0.0/16); its first address is
    // the host's end of the bridge, the only address the agents let in.
    std::string subnet = "10.213.0.0/24";
};

// "none", "internal" or "internet".
const char* network_mode_name(NetworkMode mode);

// An IPv4 subnet; addresses are host-order integers.
struct Ipv4Subnet {
    std::uint32_t address = 0;
    int prefix = 32;
    bool contains(const Ipv4Subnet& other) const;  // other lies entirely inside this one
    std::string text() const;                       // "a.b.c.d/n"
};
// "a.b.c.d" (canonical: no leading zeros) -> host-order address.
std::optional<std::uint32_t> parse_ipv4_address(std::string_view text);
std::string format_ipv4_address(std::uint32_t address);
// "a.b.c.d/n"
std::optional<Ipv4Subnet> parse_ipv4_subnet(std::string_view text);
// Empty when `subnet` suits the workers' network (a /16../28 network address inside a private
// range), else what is wrong with it.
std::string check_worker_subnet(const std::string& subnet);

// Longest agent socket path accepted (sun_path holds 108 bytes; keep a margin).
inline constexpr std::size_t kMaxSocketPathBytes = 99;

// Parses the plugin's table (null or an object). Relative paths are resolved against config_dir.
// Throws std::invalid_argument whose what() names the key (as "<table>.<key>") and the problem.
// `table` is the name used in messages, e.g. "plugins.docker-backend".
BackendConfig parse_backend_config(const nlohmann::json& config, const std::string& config_dir,
                                   const std::string& table = "plugins.docker-backend");

}  // namespace ci::docker
