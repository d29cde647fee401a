#include "code_interpreter/agent/options.hpp"

#include "code_interpreter/agent/firewall.hpp"
#include "code_interpreter/protocol/preload.hpp"

#include <sys/un.h>

#include <charconv>
#include <optional>
#include <stdexcept>
#include <utility>

namespace ci::agent {
namespace {

// sun_path holds the socket path with its terminating NUL.
constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1;

void require_absolute(std::string_view option, const std::string& value) {
    if (value.empty() || value.front() != '/')
        throw std::invalid_argument("--" + std::string(option) + " must be an absolute path");
}

void require_socket_path_fits(std::string_view option, const std::string& socket_path) {
    if (socket_path.size() > kMaxSocketPath)
        throw std::invalid_argument("--" + std::string(option) + " is too long: " + socket_path +
                                    " exceeds " + std::to_string(kMaxSocketPath) + " bytes");
}

}  // namespace

std::optional<TcpListenAddress> parse_tcp_listen(std::string_view endpoint) {
    constexpr std::string_view scheme = "tcp://";
    if (!endpoint.starts_with(scheme)) return std::nullopt;
    endpoint.remove_prefix(scheme.size());
    const std::size_t colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    TcpListenAddress address{std::string(endpoint.substr(0, colon)), 0};
    const std::string_view port = endpoint.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || port.front() == '0' || ec != std::errc() || end != port.data() + port.size() ||
        value == 0 || value > 65535 || !is_ipv4_address(address.ip))
        return std::nullopt;
    address.port = static_cast<std::uint16_t>(value);
    return address;
}

Options parse_options(const std::vector<std::string>& args) {
    Options options;
    std::string preload;
    const std::pair<std::string_view, std::string*> fields[] = {
        {"run-dir", &options.run_dir},       {"agent-user", &options.agent_user},
        {"kernel-user", &options.kernel_user}, {"kernel-dir", &options.kernel_dir},
        {"workdir", &options.workdir},       {"python", &options.python},
        {"listen", &options.listen},         {"allow-from", &options.allow_from},
        {"egress", &options.egress},         {"role", &options.role},
        {"kernel-link", &options.kernel_link}, {"key-env", &options.key_env},
        {"firewall", &options.firewall},     {"preload", &preload},
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (!arg.starts_with("--")) throw std::invalid_argument("unexpected argument: " + args[i]);
        std::string_view name = arg.substr(2);
        std::optional<std::string> value;
        if (auto eq = name.find('='); eq != std::string_view::npos) {
            value = std::string(name.substr(eq + 1));
            name = name.substr(0, eq);
        }
        std::string* target = nullptr;
        for (const auto& [field, destination] : fields)
            if (field == name) target = destination;
        if (!target) throw std::invalid_argument("unknown option: --" + std::string(name));
        if (!value) {
            if (i + 1 == args.size())
                throw std::invalid_argument("--" + std::string(name) + " needs a value");
            value = args[++i];
        }
        if (value->empty())
            throw std::invalid_argument("--" + std::string(name) + " needs a non-empty value");
        *target = std::move(*value);
    }
    require_absolute("run-dir", options.run_dir);
    require_absolute("kernel-dir", options.kernel_dir);
    require_absolute("workdir", options.workdir);
    require_absolute("python", options.python);
    require_socket_path_fits("run-dir", options.run_dir + "/agent.sock");
    // The longest kernel socket is "<kernel-dir>/k-<one digit port>".
    require_socket_path_fits("kernel-dir", options.kernel_dir + "/k-1");
    if (options.role != "worker" && options.role != "agent" && options.role != "kernel")
        throw std::invalid_argument("--role must be worker, agent or kernel, got " + options.role);
    if (options.role == "worker") {
        if (!options.kernel_link.empty())
            throw std::invalid_argument("--kernel-link goes with --role agent or kernel");
    } else {
        require_absolute("kernel-link", options.kernel_link);
        require_socket_path_fits("kernel-link", options.kernel_link);
    }
    auto modules = protocol::parse_preload_list(preload);
    if (!modules)
        throw std::invalid_argument("--preload must be at most " + std::to_string(protocol::kMaxPreloadModules) +
                                    " distinct comma-separated module names (e.g. numpy,matplotlib.pyplot), got " +
                                    preload);
    options.preload = std::move(*modules);
    if (options.role == "agent" && !options.preload.empty())
        throw std::invalid_argument("--preload goes with --role worker or kernel: the kernel's side imports");
    if (options.role == "kernel") {
        if (!options.listen.empty() || !options.key_env.empty())
            throw std::invalid_argument(
                "--role kernel takes no --listen or --key-env: only the agent talks to the gateway");
        return options;
    }
    if (options.firewall != "iptables" && options.firewall != "cluster")
        throw std::invalid_argument("--firewall must be iptables or cluster, got " + options.firewall);
    if (!options.listen.empty()) {
        if (!parse_tcp_listen(options.listen))
            throw std::invalid_argument("--listen must be tcp://<IPv4 address>:<port>, got " +
                                        options.listen);
        if (options.firewall == "cluster") {
            if (!options.allow_from.empty() || options.egress != "none")
                throw std::invalid_argument(
                    "--firewall cluster takes no --allow-from or --egress: the cluster's "
                    "NetworkPolicy says who connects and where the worker may go");
        } else {
            if (options.allow_from.empty())
                throw std::invalid_argument(
                    "--listen needs --allow-from: the agent never listens on TCP without its firewall");
            if (!is_ipv4_address(options.allow_from))
                throw std::invalid_argument("--allow-from must be an IPv4 address, got " +
                                            options.allow_from);
        }
    } else if (!options.allow_from.empty() || options.egress != "none" ||
               options.firewall != "iptables") {
        throw std::invalid_argument(
            "--allow-from, --egress and --firewall go with --listen tcp://...; the ipc socket needs "
            "no network");
    }
    if (options.egress != "none" && options.egress != "internet")
        throw std::invalid_argument("--egress must be none or internet, got " + options.egress);
    if (options.role == "agent") {
        // A pod's agent has no privileges: no firewall of its own, no user to switch to, and the
        // gateway reaches it over the pod network.
        if (options.listen.empty() || options.firewall != "cluster" || options.key_env.empty())
            throw std::invalid_argument(
                "--role agent needs --listen tcp://..., --firewall cluster and --key-env");
        return options;
    }
    if (options.firewall == "cluster")
        throw std::invalid_argument(
            "--firewall cluster goes with --role agent: a worker container installs its own");
    if (options.agent_user == options.kernel_user)
        throw std::invalid_argument(
            "--agent-user and --kernel-user must differ: user code must not reach the agent");
    return options;
}

}  // namespace ci::agent
