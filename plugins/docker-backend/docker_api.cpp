#include "docker_api.hpp"

#include "cpu_weight.hpp"

#include <cmath>
#include <cstdint>

#include "seccomp_profile.hpp"

namespace ci::docker {

using nlohmann::json;
using ci::plugin::Result;
using ci::plugin::WorkerHandle;
using ci::plugin::WorkerSpec;
using ci::plugin::WorkerState;
using ci::plugin::WorkerStatus;

bool is_valid_worker_id(std::string_view id) {
    if (id.size() != 12) return false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string container_name(const BackendConfig& config, const std::string& worker_id) {
    return config.container_name_prefix + "-" + config.instance + "-" + worker_id;
}

std::string instance_dir(const BackendConfig& config) { return config.run_dir + "/" + config.instance; }

std::string worker_dir(const BackendConfig& config, const std::string& worker_id) {
    return instance_dir(config) + "/" + worker_id;
}

std::string agent_endpoint(const BackendConfig& config, const std::string& worker_id) {
    return "ipc://" + worker_dir(config, worker_id) + "/" + kAgentSocketFile;
}

std::string network_name(const BackendConfig& config) {
    switch (config.network) {
        case NetworkMode::none: return {};
        case NetworkMode::internal: return "ci-" + config.instance;
        case NetworkMode::internet: return "ci-" + config.instance + "-net";
    }
    return {};
}

std::string network_gateway(const BackendConfig& config) {
    const auto subnet = parse_ipv4_subnet(config.subnet);
    return subnet ? format_ipv4_address(subnet->address + 1) : std::string();
}

std::string tcp_agent_endpoint(const std::string& ip) { return "tcp://" + ip + ":" + std::to_string(kAgentPort); }

std::string container_ip(const BackendConfig& config, const json& container) {
    const std::string name = network_name(config);
    if (name.empty() || !container.is_object()) return {};
    const json* settings = container.contains("NetworkSettings") ? &container["NetworkSettings"] : nullptr;
    if (!settings || !settings->is_object() || !settings->contains("Networks")) return {};
    const json& networks = (*settings)["Networks"];
    if (!networks.is_object() || !networks.contains(name) || !networks[name].is_object()) return {};
    const std::string ip = networks[name].value("IPAddress", std::string());
    return parse_ipv4_address(ip) ? ip : std::string();
}

std::vector<std::string> agent_arguments(const BackendConfig& config) {
    if (config.network == NetworkMode::none) return {};
    return {"--listen", "tcp://0.0.0.0:" + std::to_string(kAgentPort), "--allow-from", network_gateway(config),
            "--egress", config.network == NetworkMode::internet ? "internet" : "none"};
}

json build_network_create_request(const BackendConfig& config) {
    return json{
        {"Name", network_name(config)},
        {"CheckDuplicate", true},
        {"Driver", "bridge"},
        // internal: no route out at all; internet: Docker's NAT, the agents' rules do the rest.
        {"Internal", config.network == NetworkMode::internal},
        {"Attachable", false},
        {"EnableIPv6", false},
        {"IPAM", {{"Driver", "default"}, {"Config", json::array({{{"Subnet", config.subnet},
                                                                   {"Gateway", network_gateway(config)}}})}}},
        // The host drops worker-to-worker traffic on the bridge too (the agents' rules already do).
        {"Options", {{"com.docker.network.bridge.enable_icc", "false"}}},
        {"Labels", {{kLabelManaged, "true"}, {kLabelInstance, config.instance}}},
    };
}

std::string list_networks_path(const BackendConfig& config) {
    const json filters = {
        {"label", json::array({std::string(kLabelManaged) + "=true",
                               std::string(kLabelInstance) + "=" + config.instance})},
    };
    return "/networks?filters=" + url_encode(filters.dump());
}

std::string network_mismatch(const BackendConfig& config, const json& network) {
    if (!network.is_object()) return "the inspect answer is not an object";
    if (network.value("Driver", std::string()) != "bridge")
        return "driver " + network.value("Driver", std::string()) + " (expected bridge)";
    const bool internal = config.network == NetworkMode::internal;
    if (network.value("Internal", !internal) != internal)
        return internal ? "it is not internal (expected internal)" : "it is internal (expected a routed bridge)";
    const json& labels = network.contains("Labels") && network["Labels"].is_object() ? network["Labels"] : json::object();
    if (labels.value(kLabelManaged, std::string()) != "true" ||
        labels.value(kLabelInstance, std::string()) != config.instance)
        return "it is not labelled as this instance's";
    std::string subnet, gateway;
    if (network.contains("IPAM") && network["IPAM"].is_object() && network["IPAM"].contains("Config") &&
        network["IPAM"]["Config"].is_array() && network["IPAM"]["Config"].size() == 1 &&
        network["IPAM"]["Config"][0].is_object()) {
        subnet = network["IPAM"]["Config"][0].value("Subnet", std::string());
        gateway = network["IPAM"]["Config"][0].value("Gateway", std::string());
    }
    if (subnet != config.subnet || gateway != network_gateway(config))
        return "subnet " + (subnet.empty() ? std::string("?") : subnet) + " gateway " +
               (gateway.empty() ? std::string("?") : gateway) + " (expected " + config.subnet + " gateway " +
               network_gateway(config) + ")";
    return {};
}

std::size_t attached_containers(const json& network) {
    if (!network.is_object() || !network.contains("Containers") || !network["Containers"].is_object()) return 0;
    return network["Containers"].size();
}

std::string encode_path_segment(std::string_view text, std::string_view keep) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() * 3);
    for (unsigned char c : text) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved || keep.find(static_cast<char>(c)) != std::string_view::npos) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
        }
    }
    return out;
}

std::string url_encode(std::string_view text) { return encode_path_segment(text, ""); }

std::string validate_spec(const WorkerSpec& spec) {
    const auto& l = spec.limits;
    if (!is_valid_worker_id(spec.worker_id))
        return "worker id '" + spec.worker_id + "' is not 12 lowercase hexadecimal characters";
    if (!(l.cpus > 0.0) || !(l.cpus <= 1024.0) || !std::isfinite(l.cpus))
        return "limits.cpus must be above 0 and at most 1024";
    if (l.memory_mb < 6 || l.memory_mb > (std::uint64_t{1} << 30))
        return "limits.memory_mb must be between 6 and 1073741824 (Docker's minimum is 6 MB)";
    if (l.pids < 1 || l.pids > 4194304) return "limits.pids must be between 1 and 4194304";
    if (l.tmp_mb < 1 || l.tmp_mb > (std::uint64_t{1} << 30)) return "limits.tmp_mb must be between 1 and 1073741824";
    if (spec.agent_key.empty()) return "agent_key is empty";
    if (spec.workspace_host_path.empty()) {
        if (spec.workspace_mb < 1 || spec.workspace_mb > (std::uint64_t{1} << 30))
            return "workspace_mb must be between 1 and 1073741824";
    } else {
        const auto& p = spec.workspace_host_path;
        if (p.front() != '/') return "workspace_host_path '" + p + "' is not absolute";
        if (p.find_first_of(":,\n\r") != std::string::npos)
            return "workspace_host_path '" + p + "' holds ':' ',' or a line break, which a bind cannot carry";
    }
    return {};
}

json build_create_request(const BackendConfig& config, const WorkerSpec& spec, const std::string& host_dir,
                          const HostExtras& extras) {
    const auto& l = spec.limits;
    const auto memory_bytes = static_cast<std::int64_t>(l.memory_mb) * 1024 * 1024;

    json binds = json::array({host_dir + ":" + kContainerRunDir + ":rw"});
    json tmpfs = json::object();
    tmpfs["/tmp"] = "rw,nosuid,nodev,size=" + std::to_string(l.tmp_mb) + "m,mode=1777";
    if (spec.workspace_host_path.empty()) {
        tmpfs[kContainerWorkspace] = "rw,nosuid,nodev,size=" + std::to_string(spec.workspace_mb) +
                                     "m,uid=" + std::to_string(config.kernel_uid) +
                                     ",gid=" + std::to_string(config.kernel_gid) + ",mode=0700";
    } else {
        binds.push_back(spec.workspace_host_path + ":" + kContainerWorkspace + ":rw");
    }

    const bool networked = config.network != NetworkMode::none;
    // Docker writes /etc/hosts only for a container with a network (and an image's own file is
    // hidden under the container's): without one, the worker's is the per-worker dir's.
    if (!networked) binds.push_back(host_dir + "/" + kHostsFile + ":/etc/hosts:ro");
    // The agent starts as root only to empty the bounding set (SETPCAP) and drop to two
    // unprivileged users (SETUID, SETGID); networked, it first installs its firewall (NET_ADMIN:
    // the nf_tables iptables needs no NET_RAW). Then it holds no capability at all.
    json capabilities = json::array({"SETUID", "SETGID", "SETPCAP"});
    if (networked) capabilities.push_back("NET_ADMIN");

    // Our own seccomp profile (Docker's default less io_uring, ptrace, bpf...); AppArmor's
    // docker-default named where the host has AppArmor, so that it cannot silently be another.
    json security = json::array({"no-new-privileges:true", "seccomp=" + std::string(kSeccompProfile)});
    if (extras.apparmor) security.push_back("apparmor=docker-default");
    const auto ulimit = [](const char* name, std::uint64_t value) {
        return json{{"Name", name}, {"Soft", static_cast<std::int64_t>(value)}, {"Hard", static_cast<std::int64_t>(value)}};
    };

    json host_config = {
        {"NanoCpus", static_cast<std::int64_t>(std::llround(l.cpus * 1e9))},
        {"Memory", memory_bytes},
        {"MemorySwap", memory_bytes},  // equal to Memory: no swap
        {"PidsLimit", static_cast<std::int64_t>(l.pids)},
        {"CapDrop", json::array({"ALL"})},
        {"CapAdd", capabilities},
        {"SecurityOpt", security},
        {"Privileged", false},
        {"NetworkMode", networked ? network_name(config) : std::string("none")},
        {"IpcMode", "private"},
        {"Init", true},
        {"ReadonlyRootfs", true},
        // No core dumps anywhere in the worker: a crash never writes memory (the agent's key, other
        // data) to a file, and no process can raise the hard limit back.
        {"Ulimits", json::array({ulimit("nofile", config.nofile_limit), ulimit("core", 0)})},
        {"Binds", binds},
        {"Tmpfs", tmpfs},
        // Cattle: never restarted by Docker; kept after exit so inspect can tell why it ended.
        {"RestartPolicy", {{"Name", "no"}}},
        {"AutoRemove", false},
        // Under host memory pressure the kernel should kill a worker before the gateway.
        {"OomScoreAdj", 500},
        {"LogConfig", {{"Type", "json-file"}, {"Config", {{"max-size", "1m"}, {"max-file", "1"}}}}},
    };

    // Docker turns the device node into its numbers for the worker's blkio cgroup.
    const auto device_limit = [&](const char* key, std::uint64_t rate) {
        if (rate > 0 && !extras.workspace_device.empty())
            host_config[key] = json::array({{{"Path", extras.workspace_device}, {"Rate", rate}}});
    };
    device_limit("BlkioDeviceReadBps", config.disk_read_mb_per_s << 20);
    device_limit("BlkioDeviceWriteBps", config.disk_write_mb_per_s << 20);
    device_limit("BlkioDeviceReadIOps", config.disk_read_iops);
    device_limit("BlkioDeviceWriteIOps", config.disk_write_iops);
    if (extras.low_cpu_weight) host_config["CpuShares"] = kRefillCpuShares;

    json labels = {
        {kLabelManaged, "true"},
        {kLabelInstance, config.instance},
        {kLabelWorkerId, spec.worker_id},
    };

    if (networked) {
        // The network has no IPv6; no link-local IPv6 either (the agent also drops all IPv6 but lo).
        host_config["Sysctls"] = {{"net.ipv6.conf.all.disable_ipv6", "1"},
                                  {"net.ipv6.conf.default.disable_ipv6", "1"}};
    }

    json request = json{
        {"Image", config.image},
        {"Hostname", kWorkerHostname},
        {"Labels", labels},
        {"AttachStdin", false},
        {"AttachStdout", false},
        {"AttachStderr", false},
        {"Tty", false},
        {"OpenStdin", false},
        // Without a network, Docker need not set one up: it then skips the prestart hook that
        // re-executes dockerd inside every new container (libnetwork-setkey, ~0.5 s of CPU per
        // worker). The container still gets its own network namespace with loopback up.
        {"NetworkDisabled", !networked},
        {"HostConfig", host_config},
    };
    std::vector<std::string> arguments = agent_arguments(config);
    if (!spec.preload_modules.empty()) {
        arguments.push_back("--preload");
        arguments.push_back(ci::plugin::preload_argument(spec.preload_modules));
    }
    if (!arguments.empty()) request["Cmd"] = arguments;
    if (networked) {
        request["NetworkingConfig"] = {{"EndpointsConfig", {{network_name(config), json::object()}}}};
    }
    return request;
}

std::string create_container_path(const BackendConfig& config, const std::string& worker_id) {
    return "/containers/create?name=" + url_encode(container_name(config, worker_id));
}

std::string remove_container_path(const BackendConfig& config, const std::string& worker_id) {
    return "/containers/" + url_encode(container_name(config, worker_id)) + "?force=true&v=true";
}

std::string list_containers_path(const BackendConfig& config) {
    const json filters = {
        {"label", json::array({std::string(kLabelManaged) + "=true",
                               std::string(kLabelInstance) + "=" + config.instance})},
    };
    return "/containers/json?all=true&filters=" + url_encode(filters.dump());
}

std::string inspect_image_path(const std::string& image) {
    // Docker routes /images/{name:.*}/json, so the '/' of a repository path stays as it is.
    return "/images/" + encode_path_segment(image, "/:@") + "/json";
}

std::string docker_error_message(const std::string& body) {
    const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string())
        return parsed["message"].get<std::string>();
    std::string text = body;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    if (text.size() > 300) text = text.substr(0, 300) + "...";
    return text.empty() ? std::string("(empty response)") : text;
}

bool is_missing_image(long http_status, const std::string& body) {
    // Docker's wording since its first API versions: "No such image: <reference>".
    return http_status == 404 && docker_error_message(body).find("No such image") != std::string::npos;
}

std::string missing_image_message(const BackendConfig& config) {
    return "the worker image " + config.image +
           " does not exist (build it with docker/build-image.sh, or set plugins.docker-backend.image)";
}

std::string image_identity_mismatch(const BackendConfig& config, const json& image) {
    const json& config_section = image.is_object() && image.contains("Config") ? image["Config"] : json();
    const json& labels =
        config_section.is_object() && config_section.contains("Labels") && config_section["Labels"].is_object()
            ? config_section["Labels"]
            : json::object();
    std::string mismatch;
    const auto check = [&](const char* label, const char* user, const char* keys, std::uint32_t uid, std::uint32_t gid) {
        const std::string wanted = std::to_string(uid) + ":" + std::to_string(gid);
        const std::string found = labels.value(label, std::string());
        if (found == wanted) return;
        mismatch += std::string(mismatch.empty() ? "" : "; ") + "its " + user + " user is " +
                    (found.empty() ? "unknown (no label " + std::string(label) + ": an image older than these labels)"
                                   : found) +
                    ", the configuration's " + keys + " say " + wanted;
    };
    check(kLabelAgentIds, "ci-agent", "agent_uid:agent_gid", config.agent_uid, config.agent_gid);
    check(kLabelKernelIds, "sandbox", "kernel_uid:kernel_gid", config.kernel_uid, config.kernel_gid);
    return mismatch;
}

namespace {

// Why the container in a GET /containers/json entry cannot be adopted; "" when it can.
std::string stale_reason(const BackendConfig& config, const json& c, const std::string& image_id) {
    const std::string state = c.value("State", std::string());
    if (state != "running") return "it is " + (state.empty() ? std::string("in an unknown state") : state) + ", not running";
    if (image_id.empty()) return "the configured image " + config.image + " does not exist any more";
    if (c.value("ImageID", std::string()) != image_id)
        return "it was made from another image than the current " + config.image;
    const json& host_config = c.contains("HostConfig") && c["HostConfig"].is_object() ? c["HostConfig"] : json::object();
    const std::string network = host_config.value("NetworkMode", std::string());
    const std::string wanted = config.network == NetworkMode::none ? std::string("none") : network_name(config);
    if (network != wanted)
        return "its network is '" + network + "', the configuration asks for '" + wanted + "' (network mode " +
               network_mode_name(config.network) + ")";
    if (config.network != NetworkMode::none && container_ip(config, c).empty())
        return "it has no address on network " + wanted;
    return {};
}

}  // namespace

Result<std::vector<WorkerHandle>> parse_container_list(const BackendConfig& config, const std::string& body,
                                                        const std::string& image_id, std::size_t* skipped) {
    using R = Result<std::vector<WorkerHandle>>;
    const json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_array()) return R::failure("container list is not a JSON array: " + docker_error_message(body));
    std::vector<WorkerHandle> handles;
    std::size_t bad = 0;
    for (const auto& c : parsed) {
        const json* labels = c.is_object() && c.contains("Labels") ? &c["Labels"] : nullptr;
        if (!labels || !labels->is_object() || !labels->contains(kLabelWorkerId) ||
            !(*labels)[kLabelWorkerId].is_string() || !c.contains("Id") || !c["Id"].is_string()) {
            ++bad;
            continue;
        }
        const std::string id = (*labels)[kLabelWorkerId].get<std::string>();
        // The filter already asked for these; check again so a foreign container never slips in.
        const bool ours = labels->value(kLabelManaged, std::string()) == "true" &&
                          labels->value(kLabelInstance, std::string()) == config.instance;
        if (!is_valid_worker_id(id) || !ours) {
            ++bad;
            continue;
        }
        std::string endpoint = agent_endpoint(config, id);
        if (config.network != NetworkMode::none) {
            // A stopped leftover has no address: it is only ever destroyed.
            const std::string ip = container_ip(config, c);
            endpoint = ip.empty() ? std::string() : tcp_agent_endpoint(ip);
        }
        handles.push_back(WorkerHandle{id, c["Id"].get<std::string>(), std::move(endpoint),
                                       stale_reason(config, c, image_id)});
    }
    if (skipped) *skipped = bad;
    return R::success(std::move(handles));
}

Result<WorkerStatus> parse_inspect_response(long http_status, const std::string& body) {
    using R = Result<WorkerStatus>;
    if (http_status == 404) {
        WorkerStatus s;
        s.state = WorkerState::missing;
        s.detail = "no such container";
        return R::success(s);
    }
    if (http_status != 200)
        return R::failure("inspect answered HTTP " + std::to_string(http_status) + ": " + docker_error_message(body));
    const json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("State") || !parsed["State"].is_object())
        return R::failure("inspect answer has no State object: " + docker_error_message(body));
    const json& st = parsed["State"];
    const std::string status = st.value("Status", std::string());
    const bool running = st.value("Running", false);
    const bool oom = st.value("OOMKilled", false);
    const int exit_code = st.contains("ExitCode") && st["ExitCode"].is_number_integer() ? st["ExitCode"].get<int>() : 0;
    const std::string error = st.value("Error", std::string());
    const std::string finished = st.value("FinishedAt", std::string());

    WorkerStatus s;
    s.exit_code = exit_code;
    if (oom) {
        // Any process of the container was killed for memory (cgroup limit). The container may still
        // run (the agent survives when only the kernel is killed): either way the worker is spent.
        s.state = WorkerState::oom_killed;
        s.detail = running ? "a process was killed for exceeding the memory limit (container still running)"
                           : "killed for exceeding the memory limit (exit code " + std::to_string(exit_code) + ")";
    } else if (running || status == "running" || status == "paused" || status == "restarting") {
        s.state = WorkerState::running;
        s.detail = status.empty() ? "running" : status;
    } else {
        s.state = WorkerState::exited;
        if (status == "created")
            s.detail = "created but never started";
        else
            s.detail = (status.empty() ? std::string("exited") : status) + " with code " + std::to_string(exit_code);
        if (!finished.empty() && finished.rfind("0001-", 0) != 0) s.detail += " at " + finished;
    }
    if (!error.empty()) s.detail += "; " + error;
    return R::success(s);
}

std::vector<std::string> oom_counter_files(std::string_view proc_cgroup, std::string_view container_id,
                                           const std::string& cgroup_root) {
    std::vector<std::string> v1, v2;
    if (container_id.empty()) return {};
    std::size_t pos = 0;
    while (pos < proc_cgroup.size()) {
        std::size_t end = proc_cgroup.find('\n', pos);
        if (end == std::string_view::npos) end = proc_cgroup.size();
        const std::string_view line = proc_cgroup.substr(pos, end - pos);
        pos = end + 1;
        // hierarchy-id:controller-list:path
        const std::size_t c1 = line.find(':');
        const std::size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string_view::npos) continue;
        const std::string_view id = line.substr(0, c1);
        const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
        const std::string_view path = line.substr(c2 + 1);
        if (path.empty() || path.front() != '/' || path.find("..") != std::string_view::npos ||
            path.find(container_id) == std::string_view::npos)
            continue;
        bool memory = false;
        for (std::size_t b = 0; b <= controllers.size();) {
            std::size_t e = controllers.find(',', b);
            if (e == std::string_view::npos) e = controllers.size();
            if (controllers.substr(b, e - b) == "memory") memory = true;
            b = e + 1;
        }
        if (memory) v1.push_back(cgroup_root + "/memory" + std::string(path) + "/memory.oom_control");
        if (id == "0" && controllers.empty()) v2.push_back(cgroup_root + std::string(path) + "/memory.events");
    }
    v1.insert(v1.end(), v2.begin(), v2.end());
    return v1;
}

long long parse_oom_kill_count(std::string_view text) {
    constexpr std::string_view key = "oom_kill ";
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.substr(0, key.size()) != key) continue;
        long long value = 0;
        const std::string_view digits = line.substr(key.size());
        if (digits.empty()) return -1;
        for (char c : digits) {
            if (c < '0' || c > '9') return -1;
            value = value * 10 + (c - '0');
        }
        return value;
    }
    return -1;
}

}  // namespace ci::docker
