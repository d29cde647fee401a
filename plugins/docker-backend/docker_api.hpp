#pragma once
// The Docker Engine API requests this backend sends and the answers it reads, as pure functions
// (no I/O) so that unit tests can check them.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend_config.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "code_interpreter/plugin/result.hpp"

namespace ci::docker {

inline constexpr const char* kLabelManaged = "code-interpreter.managed";
inline constexpr const char* kLabelInstance = "code-interpreter.instance";
inline constexpr const char* kLabelWorkerId = "code-interpreter.worker-id";
// Labels docker/Dockerfile puts on the image: "<uid>:<gid>" of its ci-agent and sandbox users.
inline constexpr const char* kLabelAgentIds = "code-interpreter.agent-ids";
inline constexpr const char* kLabelKernelIds = "code-interpreter.kernel-ids";

// Mount points inside the container (the image's agent defaults).
inline constexpr const char* kContainerRunDir = "/run/ci";
inline constexpr const char* kContainerWorkspace = "/sandbox";
inline constexpr const char* kAgentKeyFile = "agent.key";
inline constexpr const char* kAgentSocketFile = "agent.sock";
inline constexpr const char* kHostsFile = "hosts";  // per-worker dir; /etc/hosts without a network
inline constexpr const char* kWorkerHostname = "sandbox";

// The agent's TCP port in the networked modes.
inline constexpr int kAgentPort = 5555;

// 12 lowercase hexadecimal characters.
bool is_valid_worker_id(std::string_view id);

// "<prefix>-<instance>-<worker_id>"
std::string container_name(const BackendConfig& config, const std::string& worker_id);
// "<run_dir>/<instance>"
std::string instance_dir(const BackendConfig& config);
// "<run_dir>/<instance>/<worker_id>"
std::string worker_dir(const BackendConfig& config, const std::string& worker_id);
// "ipc://<run_dir>/<instance>/<worker_id>/agent.sock"
std::string agent_endpoint(const BackendConfig& config, const std::string& worker_id);

// The workers' Docker network: "" in mode none, "ci-<instance>" (internal), "ci-<instance>-net"
// (internet).
std::string network_name(const BackendConfig& config);
// The host's address on that network (the subnet's first address): the only peer agents let in.
std::string network_gateway(const BackendConfig& config);
// "tcp://<ip>:5555"
std::string tcp_agent_endpoint(const std::string& ip);
// The container's address on the workers' network, from a container inspect or list entry
// (NetworkSettings.Networks.<network>.IPAddress); "" when it has none.
std::string container_ip(const BackendConfig& config, const nlohmann::json& container);
// The agent's arguments (the container's Cmd after the image's ci-agent entrypoint): empty in mode
// none (ipc defaults); --listen tcp://0.0.0.0:5555 --allow-from <gateway> --egress none|internet.
std::vector<std::string> agent_arguments(const BackendConfig& config);

// Body of POST /networks/create for the workers' network (bridge, Internal in mode internal, IPv4
// only, inter-container traffic disabled, labelled managed + instance).
nlohmann::json build_network_create_request(const BackendConfig& config);
// "/networks?filters=<url-encoded {"label":[managed, instance]}>"
std::string list_networks_path(const BackendConfig& config);
// Empty when an inspected network (GET /networks/<id>) is what build_network_create_request asks
// for (driver, Internal, subnet, gateway, labels), else what differs.
std::string network_mismatch(const BackendConfig& config, const nlohmann::json& network);
// Containers attached to an inspected network.
std::size_t attached_containers(const nlohmann::json& network);

// Percent-encodes everything except RFC 3986 unreserved characters.
std::string url_encode(std::string_view text);
// Percent-encodes an image reference for use in a path ('/' and ':' kept).
std::string encode_path_segment(std::string_view text, std::string_view keep = "");

// Checks a spec's limits; empty string when valid, else what is wrong.
std::string validate_spec(const ci::plugin::WorkerSpec& spec);

// What the host adds to a worker's create request.
struct HostExtras {
    bool apparmor = false;         // AppArmor is on: the worker runs under Docker's docker-default
    std::string workspace_device;  // the workspace volume's block device: the disk_* limits apply to it
    bool low_cpu_weight = false;   // a refill: created at kRefillCpuShares (cpu_weight.hpp)
};

// Body of POST /containers/create for this worker. `host_dir` is worker_dir(...).
nlohmann::json build_create_request(const BackendConfig& config, const ci::plugin::WorkerSpec& spec,
                                    const std::string& host_dir, const HostExtras& extras = {});
// "/containers/create?name=<container name>"
std::string create_container_path(const BackendConfig& config, const std::string& worker_id);
// "/containers/<name>?force=true&v=true"
std::string remove_container_path(const BackendConfig& config, const std::string& worker_id);
// "/containers/json?all=true&filters=<url-encoded {"label":[managed, instance]}>"
std::string list_containers_path(const BackendConfig& config);
// "/images/<encoded name>/json"
std::string inspect_image_path(const std::string& image);

// Docker's {"message": "..."} error body as text (or the raw body, shortened, when it is not JSON).
std::string docker_error_message(const std::string& body);

// Whether an answer says the image does not exist (404 "No such image: ...").
bool is_missing_image(long http_status, const std::string& body);
// What the operator reads when the configured image does not exist.
std::string missing_image_message(const BackendConfig& config);
// Empty when the image (GET /images/<image>/json) was built with the users the configuration names
// (its agent-ids and kernel-ids labels), else what differs: workers of a mismatched image could not
// read their key or their workspace.
std::string image_identity_mismatch(const BackendConfig& config, const nlohmann::json& image);

// Worker handles from the body of GET /containers/json (containers without a valid worker-id label
// are skipped and counted in *skipped when given). `image_id` is the configured image's id now (GET
// /images/<image>/json "Id"; empty when it does not exist). A handle is marked stale when its
// container is not running, was made from another image, or is on another network than the
// configuration asks for, or has no address on it.
ci::plugin::Result<std::vector<ci::plugin::WorkerHandle>> parse_container_list(
    const BackendConfig& config, const std::string& body, const std::string& image_id = {},
    std::size_t* skipped = nullptr);

// Worker status from GET /containers/<name>/json (status 404 = missing).
ci::plugin::Result<ci::plugin::WorkerStatus> parse_inspect_response(long http_status, const std::string& body);

// Memory OOM-kill counters. Docker 20.10 sets State.OOMKilled only when the container exits; when
// just the kernel is killed for memory the container (the agent) keeps running, so for a running
// container the backend reads the cgroup's oom_kill counter on the host instead.
//
// From the text of /proc/<pid>/cgroup, the files that may hold the memory cgroup's `oom_kill` count
// (cgroup v1 memory.oom_control first, then cgroup v2 memory.events), under `cgroup_root`. Only
// paths that name `container_id` are returned (so a recycled pid is never mistaken for the worker).
std::vector<std::string> oom_counter_files(std::string_view proc_cgroup, std::string_view container_id,
                                           const std::string& cgroup_root = "/sys/fs/cgroup");
// The value of the "oom_kill N" line; -1 when there is none.
long long parse_oom_kill_count(std::string_view text);

}  // namespace ci::docker
