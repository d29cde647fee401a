#pragma once
// The ci-agent command line.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ci::agent {

struct Options {
    // "worker": the whole worker in one container, started as root (the Docker backend). In a pod
    // the two halves run in two containers, each as its own user from the start: "agent" serves
    // the gateway, "kernel" supervises the kernel and the file server; they meet on kernel_link.
    std::string role = "worker";
    std::string kernel_link;  // roles agent and kernel: the link's socket file on a shared volume
    // Roles worker and agent: where the gateway's key comes from: empty for <run-dir>/agent.key
    // (mode 0600), or the name of an environment variable (a pod's Secret), read and unset.
    std::string key_env;
    std::string run_dir = "/run/ci";            // host bind mount: agent.key, agent.sock
    std::string agent_user = "ci-agent";        // the agent drops to this user
    std::string kernel_user = "sandbox";        // the kernel (user code) runs as this user
    std::string kernel_dir = "/tmp/ci-kernel";  // created by the kernel: connection file, sockets
    std::string workdir = "/sandbox";      // the kernel's HOME and working directory
    std::string python = "/usr/bin/python3";    // interpreter with ipykernel installed
    // Where the gateway reaches the agent: empty for ipc://<run-dir>/agent.sock (no network), or
    // tcp://<IPv4>:<port> in the networked modes, which need allow_from and install the firewall.
    std::string listen;
    std::string allow_from;      // tcp only: the gateway's address, the only peer let in
    std::string egress = "none"; // tcp only: "none", or "internet" (public addresses only)
    // tcp only: "iptables", the agent's own firewall (needs CAP_NET_ADMIN, root at start), or
    // "cluster", where the cluster's NetworkPolicy guards the port and the egress.
    std::string firewall = "iptables";
    // Roles worker and kernel: modules the kernel imports before it answers (--preload a,b.c).
    std::vector<std::string> preload;
};

inline constexpr std::string_view kUsage =
    "usage: ci-agent [--run-dir DIR] [--agent-user USER] [--kernel-user USER]\n"
    "                [--kernel-dir DIR] [--workdir DIR] [--python PATH] [--key-env NAME]\n"
    "                [--listen tcp://IP:PORT --allow-from GATEWAY_IP [--egress none|internet]]\n"
    "                [--preload MODULE,...]\n"
    "       ci-agent --role agent --kernel-link SOCKET --listen tcp://IP:PORT --firewall cluster\n"
    "                --key-env NAME [--kernel-dir DIR]\n"
    "       ci-agent --role kernel --kernel-link SOCKET [--kernel-dir DIR] [--workdir DIR]\n"
    "                [--python PATH] [--preload MODULE,...]\n"
    "Without --listen the agent serves ipc://<run-dir>/agent.sock and needs no network. With it,\n"
    "the agent (still root, with CAP_NET_ADMIN) first installs a firewall that lets only\n"
    "GATEWAY_IP connect to PORT and allows no outgoing connection (--egress internet: only to\n"
    "public addresses). On TCP the traffic is encrypted (CurveZMQ, keys derived from the key).\n"
    "In a pod the roles agent and kernel run in two containers as two users, with no privileges;\n"
    "the cluster's NetworkPolicy stands for the firewall.\n"
    "--preload: the kernel imports these modules (dotted names) before the worker is ready.\n";

struct TcpListenAddress {
    std::string ip;  // dotted-quad IPv4, 0.0.0.0 for every interface
    std::uint16_t port = 0;
};

// "tcp://A.B.C.D:PORT" (PORT 1..65535), else nullopt.
std::optional<TcpListenAddress> parse_tcp_listen(std::string_view endpoint);

// Parses the arguments after argv[0] ("--name value" or "--name=value"). Throws
// std::invalid_argument with a one-line reason on an unknown option, a missing value, a relative
// path, a path too long for a unix socket, or network options that do not go together.
Options parse_options(const std::vector<std::string>& args);

}  // namespace ci::agent
