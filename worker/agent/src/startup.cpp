#include "code_interpreter/agent/startup.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <zmq.hpp>

#include "code_interpreter/agent/agent.hpp"
#include "code_interpreter/agent/firewall.hpp"
#include "code_interpreter/agent/key_file.hpp"
#include "code_interpreter/agent/log.hpp"
#include "code_interpreter/agent/memory_limit.hpp"
#include "code_interpreter/agent/privileges.hpp"
#include "code_interpreter/agent/signals.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/curve.hpp"

namespace ci::agent {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(60);  // for the kernel's supervisor to report

zmq::socket_t bind_gateway(zmq::context_t& context, const std::string& endpoint,
                           const std::string& gateway_key) {
    zmq::socket_t socket(context, zmq::socket_type::router);
    // Replies sent just before exiting (e.g. "kernel died") still get out.
    socket.set(zmq::sockopt::linger, 2000);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(protocol::kMaxRequestBytes));
    // The gateway reads a few messages at a time (its receive queue is short, to bound its memory):
    // the rest waits here, in the worker's memory, and a ROUTER at its limit would drop it.
    socket.set(zmq::sockopt::sndhwm, 0);
    if (protocol::encrypted_endpoint(endpoint)) {
        socket.set(zmq::sockopt::curve_server, 1);
        socket.set(zmq::sockopt::curve_secretkey, protocol::curve_server_keys(gateway_key).secret_key);
    }
    try {
        socket.bind(endpoint);
    } catch (const zmq::error_t& e) {
        throw std::runtime_error("cannot bind " + endpoint + ": " + e.what());
    }
    return socket;
}

// The ipc endpoint in the bind-mounted run dir, with any socket file an earlier agent left.
std::string ipc_endpoint(const std::filesystem::path& socket_path) {
    if (::unlink(socket_path.c_str()) != 0 && errno != ENOENT)
        throw errno_error("cannot remove stale socket " + socket_path.string());
    return "ipc://" + socket_path.string();
}

// The kernel's limits from the container's cgroup (memory_limit.hpp), logged.
KernelLimits kernel_limits() {
    const std::filesystem::path cgroup_root = "/sys/fs/cgroup";
    KernelLimits limits{.blas_threads = read_container_cpus(cgroup_root)};
    if (const auto container = read_container_memory_limit(cgroup_root)) {
        limits.data_limit = kernel_data_limit(*container);
        log_line("kernel memory limit (RLIMIT_DATA): " + std::to_string(*limits.data_limit / kMiB) +
                 " MiB, the container has " + std::to_string(*container / kMiB) + " MiB");
    } else {
        log_line("no kernel memory limit: the cgroup states no container memory limit");
    }
    return limits;
}

// The gateway's key: from <run-dir>/agent.key, or from the environment (a pod's Secret), unset
// once read so that nothing the agent starts inherits it.
std::string read_gateway_key(const Options& options) {
    if (options.key_env.empty()) return read_key_file(std::filesystem::path(options.run_dir) / "agent.key");
    const char* value = std::getenv(options.key_env.c_str());
    if (!value || !*value)
        throw std::runtime_error("the environment has no " + options.key_env + " (the gateway's key)");
    std::string key = value;
    ::unsetenv(options.key_env.c_str());
    return key;
}

KernelSpec kernel_spec(const Options& options, std::string user_name) {
    return KernelSpec{options.python, std::move(user_name), options.workdir, options.kernel_dir,
                      kernel_limits(), options.preload};
}

void refuse_root(const Options& options) {
    if (::getuid() == 0 || ::geteuid() == 0)
        throw std::runtime_error("--role " + options.role +
                                 " runs as its own user from the start, never as root");
}

// Serves the gateway until the kernel ends or a signal stops the agent.
int serve(const Options& options, StartedKernel kernel, std::string gateway_key) {
    UniqueFd signals = open_signal_fd();
    zmq::context_t context;
    KernelClient client(context, kernel.connection);
    const std::string endpoint =
        options.listen.empty() ? ipc_endpoint(std::filesystem::path(options.run_dir) / "agent.sock")
                               : options.listen;
    zmq::socket_t gateway = bind_gateway(context, endpoint, gateway_key);
    log_line("listening on " + endpoint +
             (protocol::encrypted_endpoint(endpoint) ? " (CurveZMQ)" : ""));
    Agent agent(std::move(kernel.process), std::move(kernel.file_server), std::move(client),
                std::move(gateway), std::move(gateway_key), std::move(signals));
    return agent.run();
}

// Role worker: started as root with the few capabilities it needs, it installs the firewall,
// starts the kernel's supervisor and drops to the agent user.
int run_worker(const Options& options) {
    const UserAccount agent_user = lookup_user(options.agent_user);
    const UserAccount kernel_user = lookup_user(options.kernel_user);
    if (agent_user.uid == kernel_user.uid)
        throw std::runtime_error("the agent user and the kernel user have the same uid");

    // Networked mode: the firewall goes in before any user code can run, or the agent stops.
    if (const auto tcp = parse_tcp_listen(options.listen)) {
        const FirewallPolicy policy{options.allow_from, tcp->port,
                                    options.egress == "internet" ? Egress::internet : Egress::none};
        install_firewall(policy);
        log_line("firewall installed: only " + options.allow_from + " may connect to port " +
                 std::to_string(tcp->port) + "; egress " + options.egress);
    }

    StartedKernel kernel =
        launch_kernel(kernel_spec(options, kernel_user.name), kernel_user, kStartTimeout);
    log_line("kernel started as " + kernel_user.name);

    // The kernel's group opens its ipc sockets (created group-accessible) to the agent.
    drop_privileges(agent_user.uid, agent_user.gid, {agent_user.gid, kernel_user.gid});
    // The agent holds the gateway key: no core dumps, no ptrace or /proc access by anyone.
    make_undumpable();
    ::umask(077);  // agent.sock: for the agent user (and the host's root) only
    log_line("running as " + agent_user.name + " with no capabilities");
    std::string gateway_key = read_gateway_key(options);
    return serve(options, std::move(kernel), std::move(gateway_key));
}

// Role agent, in a pod: already its own user with no capabilities; the kernel's supervisor is
// the other container's.
int run_pod_agent(const Options& options) {
    refuse_root(options);
    make_undumpable();
    ::umask(077);
    std::string gateway_key = read_gateway_key(options);
    StartedKernel kernel = connect_kernel(options.kernel_link, kStartTimeout);
    log_line("connected to the kernel's supervisor on " + options.kernel_link);
    return serve(options, std::move(kernel), std::move(gateway_key));
}

// Role kernel, in a pod: this process is the supervisor, as the kernel user it was started as.
[[noreturn]] void run_pod_kernel(const Options& options) {
    refuse_root(options);
    const passwd* entry = ::getpwuid(::getuid());
    const std::string user_name = entry ? entry->pw_name : options.kernel_user;
    log_line("waiting for the agent on " + options.kernel_link);
    serve_kernel(kernel_spec(options, user_name), options.kernel_link, kStartTimeout);
}

}  // namespace

int run_agent(const Options& options) {
    // Before any thread exists, so that every thread inherits the mask.
    block_agent_signals();
    if (options.role == "kernel") run_pod_kernel(options);
    if (options.role == "agent") return run_pod_agent(options);
    return run_worker(options);
}

}  // namespace ci::agent
