#include "docker_backend.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "code_interpreter/fd/unique_fd.hpp"
#include "docker_api.hpp"
#include "code_interpreter/host_failure/host_failure.hpp"
#include "host_facts.hpp"
#include "worker_dir.hpp"

namespace ci::docker {

using ci::fd::UniqueFd;
using ci::plugin::FailureKind;
using ci::plugin::LogLevel;
using ci::plugin::Result;
using ci::plugin::Status;
using ci::plugin::WorkerHandle;
using ci::plugin::WorkerSpec;
using ci::plugin::WorkerStatus;
using nlohmann::json;

namespace {

// Container create / start / force-remove can be slow on a loaded host.
constexpr std::chrono::milliseconds kSlowCallTimeout{60000};
constexpr std::chrono::milliseconds kRemovalWait{15000};

std::string http_failure(const HttpResponse& r) {
    return "HTTP " + std::to_string(r.status) + ": " + docker_error_message(r.body);
}

std::string read_small_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return {};
    std::string text(8192, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

// OOM kills in a running container's memory cgroup, read on the host (see oom_counter_files);
// 0 when unknown (another pid namespace, no access, unexpected cgroup layout).
long long running_oom_kills(const std::string& inspect_body) {
    const json parsed = json::parse(inspect_body, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("Id") || !parsed["Id"].is_string()) return 0;
    const json& state = parsed.value("State", json::object());
    if (!state.is_object() || !state.contains("Pid") || !state["Pid"].is_number_integer()) return 0;
    const long long pid = state["Pid"].get<long long>();
    if (pid <= 0) return 0;
    const std::string cgroups = read_small_file("/proc/" + std::to_string(pid) + "/cgroup");
    for (const auto& file : oom_counter_files(cgroups, parsed["Id"].get<std::string>())) {
        const long long count = parse_oom_kill_count(read_small_file(file));
        if (count >= 0) return count;
    }
    return 0;
}

}  // namespace

DockerBackend::DockerBackend(BackendConfig config, Logger log, DockerClientOptions client_options)
    : config_(std::move(config)),
      log_(std::move(log)),
      client_(config_.socket, client_options),
      apparmor_(apparmor_enabled()),
      cpu_(host_cpu_controller()) {
    if (!cpu_) log(LogLevel::warn, "no cgroup cpu controller found: refills run at the normal CPU weight");
}

DockerBackend::~DockerBackend() {
    if (network_id_.empty()) return;
    const std::string name = network_name(config_);
    try {
        const json network = inspect_network(network_id_);
        if (network.is_null()) return;
        if (const std::size_t attached = attached_containers(network); attached > 0) {
            log(LogLevel::info, "keeping network " + name + ": " + std::to_string(attached) +
                                    " container(s) still attached (the next start reuses or replaces it)");
            return;
        }
        remove_network(network_id_, name);
        log(LogLevel::info, "removed network " + name);
    } catch (const std::exception& e) {
        log(LogLevel::warn, "cannot remove network " + name + ": " + e.what());
    } catch (...) {
        log(LogLevel::warn, "cannot remove network " + name);
    }
}

json DockerBackend::inspect_network(const std::string& id) const {
    auto inspected = client_.get("/networks/" + url_encode(id));
    if (!inspected.ok()) throw std::runtime_error(inspected.error());
    if (inspected.value().status == 404) return json(nullptr);
    if (inspected.value().status != 200)
        throw std::runtime_error("inspecting network " + id + ": " + http_failure(inspected.value()));
    json parsed = json::parse(inspected.value().body, nullptr, false);
    if (!parsed.is_object()) throw std::runtime_error("inspecting network " + id + ": the answer is not a JSON object");
    return parsed;
}

void DockerBackend::remove_network(const std::string& id, const std::string& name) const {
    auto removed = client_.request("DELETE", "/networks/" + url_encode(id), nullptr, kSlowCallTimeout);
    if (!removed.ok()) throw std::runtime_error("removing network " + name + ": " + removed.error());
    if (removed.value().status != 204 && removed.value().status != 404)
        throw std::runtime_error("removing network " + name + ": " + http_failure(removed.value()));
}

void DockerBackend::destroy_leftover_workers(const std::string& why) {
    auto listed = list_workers();
    if (!listed.ok()) throw std::runtime_error(listed.error());
    for (const auto& handle : listed.value()) {
        log(LogLevel::info, "removing leftover worker " + handle.worker_id + ": " + why);
        if (auto st = destroy_worker(handle.worker_id); !st.ok()) throw std::runtime_error(st.error());
    }
}

void DockerBackend::prepare_network() {
    const std::string wanted = network_name(config_);
    auto listed = client_.get(list_networks_path(config_));
    if (!listed.ok()) throw std::runtime_error("docker-backend: listing networks: " + listed.error());
    if (listed.value().status != 200)
        throw std::runtime_error("docker-backend: listing networks: " + http_failure(listed.value()));
    const json networks = json::parse(listed.value().body, nullptr, false);
    if (!networks.is_array()) throw std::runtime_error("docker-backend: listing networks: the answer is not an array");

    std::string existing_id;
    for (const auto& n : networks) {
        if (!n.is_object() || !n.contains("Id") || !n["Id"].is_string()) continue;
        const std::string id = n["Id"].get<std::string>();
        const std::string name = n.value("Name", std::string());
        // The filter asked for these labels; check again so a foreign network is never touched.
        const json labels = n.contains("Labels") && n["Labels"].is_object() ? n["Labels"] : json::object();
        if (labels.value(kLabelManaged, std::string()) != "true" ||
            labels.value(kLabelInstance, std::string()) != config_.instance)
            continue;
        if (!wanted.empty() && name == wanted) {
            existing_id = id;
            continue;
        }
        // Left by a run in another network mode: every container of this instance is a leftover.
        try {
            const json inspected = inspect_network(id);
            if (inspected.is_null()) continue;
            if (attached_containers(inspected) > 0) destroy_leftover_workers("its network " + name + " goes");
            remove_network(id, name);
            log(LogLevel::info, "removed leftover network " + name + " (network mode is now " +
                                    network_mode_name(config_.network) + ")");
        } catch (const std::exception& e) {
            throw std::runtime_error("docker-backend: cannot remove leftover network " + name + ": " + e.what());
        }
    }
    if (wanted.empty()) return;

    if (!existing_id.empty()) {
        const json inspected = inspect_network(existing_id);
        if (!inspected.is_null()) {
            const std::string mismatch = network_mismatch(config_, inspected);
            if (mismatch.empty()) {
                network_id_ = existing_id;
                log(LogLevel::info, "reusing network " + wanted + " (" + config_.subnet + ")");
            } else {
                log(LogLevel::warn, "replacing network " + wanted + ": " + mismatch);
                try {
                    if (attached_containers(inspected) > 0) destroy_leftover_workers("its network " + wanted + " is replaced");
                    remove_network(existing_id, wanted);
                } catch (const std::exception& e) {
                    throw std::runtime_error("docker-backend: cannot replace network " + wanted + " (" + mismatch +
                                             "): " + e.what());
                }
            }
        }
    }
    if (network_id_.empty()) {
        const std::string body = build_network_create_request(config_).dump();
        auto created = client_.request("POST", "/networks/create", &body, kSlowCallTimeout);
        if (!created.ok()) throw std::runtime_error("docker-backend: creating network " + wanted + ": " + created.error());
        if (created.value().status == 409)
            throw std::runtime_error("docker-backend: a network named " + wanted +
                                     " exists and is not this instance's (no code-interpreter labels): remove it or "
                                     "choose another instance name");
        if (created.value().status != 201)
            throw std::runtime_error("docker-backend: creating network " + wanted + " (subnet " + config_.subnet +
                                     "): " + http_failure(created.value()) +
                                     (created.value().status == 403 || created.value().status == 400
                                          ? " (is the subnet used by another network? set plugins.docker-backend.subnet)"
                                          : ""));
        const json answer = json::parse(created.value().body, nullptr, false);
        if (!answer.is_object() || !answer.contains("Id") || !answer["Id"].is_string())
            throw std::runtime_error("docker-backend: creating network " + wanted + ": the answer has no Id");
        network_id_ = answer["Id"].get<std::string>();
        log(LogLevel::info, "created network " + wanted + " (" + config_.subnet + ", " +
                                (config_.network == NetworkMode::internal ? "internal" : "with outbound NAT") + ")");
    }
    if (config_.network == NetworkMode::internet)
        log(LogLevel::warn,
            "WARNING: enable_internet = true: user code can open connections to any public internet address "
            "(private, link-local and metadata addresses, the gateway host and other workers stay blocked by "
            "each worker's firewall). Services the host offers on a public address of its own are reachable too.");
    else
        log(LogLevel::info, "workers are on the internal network " + wanted + "; the gateway reaches them from " +
                                network_gateway(config_));
}

void DockerBackend::log(LogLevel level, const std::string& message) const {
    if (!log_) return;
    try {
        log_(level, "docker-backend: " + message);
    } catch (...) {
    }
}

void DockerBackend::check_startup() {
    if (const std::string conflicts = host_identity_conflicts(config_); !conflicts.empty())
        throw std::runtime_error("docker-backend: the workers' ids must belong to no host account (a host user "
                                 "sharing them could signal the kernels or read the agents' keys): " +
                                 conflicts + "; build the image with other ids (docker/Dockerfile) and set them here");
    auto ping = client_.get("/_ping");
    if (!ping.ok()) throw std::runtime_error("docker-backend: the Docker daemon does not answer: " + ping.error());
    if (ping.value().status != 200)
        throw std::runtime_error("docker-backend: GET /_ping on " + config_.socket + " answered " +
                                 http_failure(ping.value()));

    auto image = client_.get(inspect_image_path(config_.image));
    if (!image.ok()) throw std::runtime_error("docker-backend: cannot inspect image " + config_.image + ": " + image.error());
    if (image.value().status == 404) throw std::runtime_error("docker-backend: " + missing_image_message(config_));
    if (image.value().status != 200)
        throw std::runtime_error("docker-backend: inspecting image " + config_.image + " answered " +
                                 http_failure(image.value()));
    if (const std::string mismatch =
            image_identity_mismatch(config_, json::parse(image.value().body, nullptr, false));
        !mismatch.empty())
        throw std::runtime_error("docker-backend: the image " + config_.image + " does not match the configuration: " +
                                 mismatch + " (rebuild it with docker/build-image.sh, or set the ids it was built with)");

    if (auto st = ensure_directory(instance_dir(config_)); !st.ok())
        throw std::runtime_error("docker-backend: run_dir: " + st.error());
    // Probe that we may mount a worker dir and hand it to the agent's user (the gateway needs root).
    const std::string probe = instance_dir(config_) + "/.probe-" + std::to_string(::getpid());
    (void)remove_worker_dir(probe);
    Status made = make_worker_dir(probe, config_.agent_uid, config_.agent_gid, "probe", "x");
    (void)remove_worker_dir(probe);
    if (!made.ok())
        throw std::runtime_error("docker-backend: cannot prepare per-worker dirs under " + instance_dir(config_) +
                                 " (the gateway must run as root to mount them and give them to uid " +
                                 std::to_string(config_.agent_uid) + "): " + made.error());
    log(LogLevel::info, "Docker daemon at " + config_.socket + " answers; image " + config_.image +
                            " present; instance '" + config_.instance + "'");
    log(LogLevel::info, apparmor_ ? "AppArmor is on: workers run under its docker-default profile"
                                  : "AppArmor is not enabled on this host: workers run without an AppArmor profile "
                                    "(their seccomp profile, capability sets and users still apply)");
}

std::size_t DockerBackend::remove_orphan_dirs() {
    auto listed = list_workers();
    if (!listed.ok()) {
        log(LogLevel::warn, "cannot look for leftover dirs: " + listed.error());
        return 0;
    }
    std::set<std::string> live;
    for (const auto& h : listed.value()) live.insert(h.worker_id);
    std::size_t removed = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(instance_dir(config_), ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!is_valid_worker_id(name) || live.count(name)) continue;
        if (remove_worker_dir(it->path().string()).ok()) ++removed;
    }
    if (removed) log(LogLevel::info, "removed " + std::to_string(removed) + " leftover worker dir(s) without a container");
    return removed;
}

Result<WorkerHandle> DockerBackend::create_worker(const WorkerSpec& spec) {
    try {
        return create_worker_unchecked(spec);
    } catch (const std::exception& e) {
        return Result<WorkerHandle>::failure("create_worker " + spec.worker_id + ": unexpected error: " + e.what());
    } catch (...) {
        return Result<WorkerHandle>::failure("create_worker " + spec.worker_id + ": unexpected error");
    }
}

Result<WorkerHandle> DockerBackend::create_worker_unchecked(const WorkerSpec& spec) {
    using R = Result<WorkerHandle>;
    const std::string& id = spec.worker_id;
    auto fail = [&](const std::string& step, const std::string& why, FailureKind kind = FailureKind::other) {
        return host_failure::failure<R>("create_worker " + id + ": " + step + ": " + why, kind);
    };
    if (std::string problem = validate_spec(spec); !problem.empty()) return fail("invalid spec", problem);
    if (!spec.workspace_host_path.empty()) {
        // The volume's root becomes the kernel user's private home, like the in-memory workspace.
        const std::string& ws = spec.workspace_host_path;
        UniqueFd fd(::open(ws.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) return fail("invalid spec", "workspace_host_path " + ws + " is not a directory");
        if (::fchown(fd.get(), config_.kernel_uid, config_.kernel_gid) != 0 || ::fchmod(fd.get(), 0700) != 0)
            return fail("preparing the workspace", "cannot give " + ws + " to uid " +
                                                       std::to_string(config_.kernel_uid) + ": " + std::strerror(errno));
    }

    const std::string dir = worker_dir(config_, id);
    const std::string name = container_name(config_, id);
    if (auto st = ensure_directory(instance_dir(config_)); !st.ok())
        return fail("making the worker dir", st.error(), st.kind());
    std::error_code exists_ec;
    if (std::filesystem::symlink_status(dir, exists_ec).type() != std::filesystem::file_type::not_found)
        // Not ours to remove here: it may belong to a live worker with the same id.
        return fail("making the worker dir", dir + " already exists");
    auto made = make_worker_dir(dir, config_.agent_uid, config_.agent_gid, kAgentKeyFile, spec.agent_key);
    if (made.ok() && config_.network == NetworkMode::none) made = write_hosts_file(dir, kWorkerHostname);
    if (!made.ok()) {
        (void)remove_worker_dir(dir);
        return fail("making the worker dir", made.error(), made.kind());
    }

    // From here on, undo everything on failure.
    auto undo = [&](bool container_may_exist) {
        if (container_may_exist) {
            if (auto st = remove_container(id); !st.ok()) log(LogLevel::warn, "cleanup after failed create: " + st.error());
        }
        if (auto st = remove_worker_dir(dir); !st.ok()) log(LogLevel::warn, "cleanup after failed create: " + st.error());
    };

    HostExtras extras{apparmor_, {}, spec.ahead_of_demand && cpu_.has_value()};
    const bool disk_limits = config_.disk_read_mb_per_s || config_.disk_write_mb_per_s || config_.disk_read_iops ||
                             config_.disk_write_iops;
    if (disk_limits && !spec.workspace_host_path.empty()) {
        extras.workspace_device = block_device_of(spec.workspace_host_path);
        if (extras.workspace_device.empty())
            log(LogLevel::warn, name + ": its workspace " + spec.workspace_host_path +
                                    " is on no block device: the disk_* limits do not apply to it");
    }
    const std::string body = build_create_request(config_, spec, dir, extras).dump();
    auto created = client_.request("POST", create_container_path(config_, id), &body, kSlowCallTimeout);
    if (!created.ok()) {
        undo(true);  // the request may have reached the daemon before the transport failed
        return fail("creating container " + name, created.error(), created.kind());
    }
    if (created.value().status != 201) {
        // 409: a container of that name exists already; it is not ours to remove here.
        undo(created.value().status != 409);
        if (is_missing_image(created.value().status, created.value().body))
            return R::failure("create_worker " + id + ": " + missing_image_message(config_), FailureKind::not_found);
        return fail("creating container " + name + " from image " + config_.image, http_failure(created.value()));
    }
    const json answer = json::parse(created.value().body, nullptr, false);
    if (!answer.is_object() || !answer.contains("Id") || !answer["Id"].is_string()) {
        undo(true);
        return fail("creating container " + name, "answer has no Id: " + docker_error_message(created.value().body));
    }
    const std::string container_id = answer["Id"].get<std::string>();
    if (answer.contains("Warnings") && answer["Warnings"].is_array()) {
        for (const auto& w : answer["Warnings"])
            if (w.is_string() && !w.get<std::string>().empty()) log(LogLevel::warn, name + ": " + w.get<std::string>());
    }

    auto started = client_.request("POST", "/containers/" + container_id + "/start", nullptr, kSlowCallTimeout);
    if (!started.ok()) {
        undo(true);
        return fail("starting container " + name, started.error(), started.kind());
    }
    if (started.value().status != 204 && started.value().status != 304) {
        undo(true);
        return fail("starting container " + name, http_failure(started.value()));
    }
    std::string endpoint = agent_endpoint(config_, id);
    if (config_.network != NetworkMode::none) {
        // Docker chose the address when it connected the container at start.
        auto inspected = client_.get("/containers/" + container_id + "/json");
        if (!inspected.ok()) {
            undo(true);
            return fail("inspecting container " + name, inspected.error(), inspected.kind());
        }
        const std::string ip = inspected.value().status == 200
                                   ? container_ip(config_, json::parse(inspected.value().body, nullptr, false))
                                   : std::string();
        if (ip.empty()) {
            undo(true);
            return fail("inspecting container " + name,
                        inspected.value().status == 200 ? "it has no address on network " + network_name(config_)
                                                        : http_failure(inspected.value()));
        }
        endpoint = tcp_agent_endpoint(ip);
    }
    return R::success(WorkerHandle{id, container_id, std::move(endpoint)});
}

Status DockerBackend::remove_container(const std::string& worker_id) {
    const std::string name = container_name(config_, worker_id);
    const auto deadline = std::chrono::steady_clock::now() + kRemovalWait;
    for (;;) {
        auto removed = client_.request("DELETE", remove_container_path(config_, worker_id), nullptr, kSlowCallTimeout);
        if (!removed.ok()) return Status::failure("removing container " + name + ": " + removed.error(), removed.kind());
        const long code = removed.value().status;
        if (code == 204 || code == 404) return Status::success();
        // 409 "removal already in progress": another caller is removing it; wait until it is gone.
        if (code == 409 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        return Status::failure("removing container " + name + ": " + http_failure(removed.value()));
    }
}

Status DockerBackend::destroy_worker(const std::string& worker_id) {
    try {
        return destroy_worker_unchecked(worker_id);
    } catch (const std::exception& e) {
        return Status::failure("destroy_worker " + worker_id + ": unexpected error: " + e.what());
    } catch (...) {
        return Status::failure("destroy_worker " + worker_id + ": unexpected error");
    }
}

Status DockerBackend::destroy_worker_unchecked(const std::string& worker_id) {
    if (!is_valid_worker_id(worker_id))
        return Status::failure("destroy_worker: worker id '" + worker_id + "' is not 12 lowercase hexadecimal characters");
    if (auto st = remove_container(worker_id); !st.ok())
        return host_failure::failure<Status>("destroy_worker " + worker_id + ": " + st.error(), st.kind());
    if (auto st = remove_worker_dir(worker_dir(config_, worker_id)); !st.ok())
        return host_failure::failure<Status>("destroy_worker " + worker_id + ": container removed, but " + st.error());
    return Status::success();
}

Result<std::vector<WorkerHandle>> DockerBackend::list_workers() {
    using R = Result<std::vector<WorkerHandle>>;
    auto fail = [](const std::string& why, FailureKind kind = FailureKind::other) {
        return host_failure::failure<R>("list_workers: " + why, kind);
    };
    try {
        auto listed = client_.get(list_containers_path(config_));
        if (!listed.ok()) return fail(listed.error(), listed.kind());
        if (listed.value().status != 200) return fail(http_failure(listed.value()));
        // Containers made from another image than the one the configured name points to now are stale.
        auto image = client_.get(inspect_image_path(config_.image));
        if (!image.ok()) return fail(image.error(), image.kind());
        std::string image_id;  // stays empty when the image is gone
        if (image.value().status != 404) {
            const json parsed = json::parse(image.value().body, nullptr, false);
            if (image.value().status != 200 || !parsed.is_object() || !parsed.contains("Id") || !parsed["Id"].is_string())
                return fail("inspecting image " + config_.image + ": " + http_failure(image.value()));
            image_id = parsed["Id"].get<std::string>();
        }
        std::size_t skipped = 0;
        auto handles = parse_container_list(config_, listed.value().body, image_id, &skipped);
        if (!handles.ok()) return fail(handles.error());
        if (skipped)
            log(LogLevel::warn, "list_workers: ignored " + std::to_string(skipped) +
                                    " labelled container(s) without a valid worker id");
        return handles;
    } catch (const std::exception& e) {
        return R::failure(std::string("list_workers: unexpected error: ") + e.what());
    } catch (...) {
        return R::failure("list_workers: unexpected error");
    }
}

Status DockerBackend::worker_leased(const WorkerHandle& worker) {
    if (!cpu_) return Status::success();  // every worker was made at the normal weight
    return set_default_cpu_weight(*cpu_, worker.backend_id);  // the container's id
}

Result<WorkerStatus> DockerBackend::inspect_worker(const std::string& worker_id) {
    using R = Result<WorkerStatus>;
    try {
        if (!is_valid_worker_id(worker_id))
            return R::failure("inspect_worker: worker id '" + worker_id + "' is not 12 lowercase hexadecimal characters");
        auto inspected = client_.get("/containers/" + url_encode(container_name(config_, worker_id)) + "/json");
        if (!inspected.ok()) return R::failure("inspect_worker " + worker_id + ": " + inspected.error(), inspected.kind());
        auto status = parse_inspect_response(inspected.value().status, inspected.value().body);
        if (!status.ok()) return host_failure::failure<R>("inspect_worker " + worker_id + ": " + status.error());
        if (status.value().state == ci::plugin::WorkerState::running) {
            if (const long long kills = running_oom_kills(inspected.value().body); kills > 0) {
                status.value().state = ci::plugin::WorkerState::oom_killed;
                status.value().detail = std::to_string(kills) +
                                        " process(es) killed for exceeding the memory limit (container still running)";
            }
        }
        return status;
    } catch (const std::exception& e) {
        return R::failure("inspect_worker " + worker_id + ": unexpected error: " + e.what());
    } catch (...) {
        return R::failure("inspect_worker " + worker_id + ": unexpected error");
    }
}

}  // namespace ci::docker
