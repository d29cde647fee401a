#include "code_interpreter/agent/startup.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci::agent {
namespace {

zmq::socket_t bind_gateway(zmq::context_t& context, const std::string& endpoint) {
    zmq::socket_t socket(context, zmq::socket_type::router);
    // Replies sent just before exiting (e.g. "kernel died") still get out.
    socket.set(zmq::sockopt::linger, 2000);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(protocol::kMaxRequestBytes));
    // The gateway reads a few messages at a time (its receive queue is short, to bound its memory):
    // the rest waits here, in the worker's memory, and a ROUTER at its limit would drop it.
    socket.set(zmq::sockopt::sndhwm, 0);
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

}  // namespace

int run_agent(const Options& options) {
    // Before any thread exists, so that every thread inherits the mask.
    block_agent_signals();

    const UserAccount agent_user = lookup_user(options.agent_user);
    const UserAccount kernel_user = lookup_user(options.kernel_user);
    if (agent_user.uid == kernel_user.uid)
        throw std::runtime_error("the agent user and the kernel user have the same uid");

    // Networked mode: the firewall goes in before any user code can run, or the agent stops.
    const auto tcp = options.listen.empty() ? std::nullopt : parse_tcp_listen(options.listen);
    if (tcp) {
        const FirewallPolicy policy{options.allow_from, tcp->port,
                                    options.egress == "internet" ? Egress::internet : Egress::none};
        install_firewall(policy);
        log_line("firewall installed: only " + options.allow_from + " may connect to port " +
                 std::to_string(tcp->port) + "; egress " + options.egress);
    }

    const ConnectionInfo connection{options.kernel_dir, crypto::random_hex(32)};
    StartedKernel kernel = launch_kernel(KernelSpec{options.python, kernel_user, options.workdir,
                                                    connection, kernel_limits()});
    log_line("kernel started as " + kernel_user.name + " (supervisor pid " +
             std::to_string(kernel.process.pid()) + ")");

    // The kernel's group opens its ipc sockets (created group-accessible) to the agent.
    drop_privileges(agent_user.uid, agent_user.gid, {agent_user.gid, kernel_user.gid});
    // The agent holds the gateway key: no core dumps, no ptrace or /proc access by anyone.
    make_undumpable();
    ::umask(077);  // agent.sock: for the agent user (and the host's root) only
    log_line("running as " + agent_user.name + " with no capabilities");

    const std::filesystem::path run_dir = options.run_dir;
    std::string gateway_key = read_key_file(run_dir / "agent.key");
    UniqueFd signals = open_signal_fd();

    zmq::context_t context;
    KernelClient client(context, connection);
    const std::string endpoint = tcp ? options.listen : ipc_endpoint(run_dir / "agent.sock");
    zmq::socket_t gateway = bind_gateway(context, endpoint);
    log_line("listening on " + endpoint);
    Agent agent(std::move(kernel.process), std::move(kernel.file_server), std::move(client),
                std::move(gateway), std::move(gateway_key), std::move(signals));
    return agent.run();
}

}  // namespace ci::agent
