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

// Mount points inside the container (the image's agent defaults).
inline constexpr const char* kContainerRunDir = "/run/ci";
inline constexpr const char* kContainerWorkspace = "/home/sandbox";
inline constexpr const char* kAgentKeyFile = "agent.key";
inline constexpr const char* kAgentSocketFile = "agent.sock";

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

// Percent-encodes everything except RFC 3986 unreserved characters.
std::string url_encode(std::string_view text);
// Percent-encodes an image reference for use in a path ('/' and ':' kept).
std::string encode_path_segment(std::string_view text, std::string_view keep = "");

// Checks a spec's limits; empty string when valid, else what is wrong.
std::string validate_spec(const ci::plugin::WorkerSpec& spec);

// Body of POST /containers/create for this worker. `host_dir` is worker_dir(...).
nlohmann::json build_create_request(const BackendConfig& config, const ci::plugin::WorkerSpec& spec,
                                    const std::string& host_dir);
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

// Worker handles from the body of GET /containers/json (containers without a valid worker-id label
// are skipped and counted in *skipped when given).
ci::plugin::Result<std::vector<ci::plugin::WorkerHandle>> parse_container_list(
    const BackendConfig& config, const std::string& body, std::size_t* skipped = nullptr);

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
