#pragma once
// The ci-agent command line.
#include <string>
#include <string_view>
#include <vector>

namespace ci::agent {

struct Options {
    std::string run_dir = "/run/ci";            // host bind mount: agent.key, agent.sock
    std::string agent_user = "ci-agent";        // the agent drops to this user
    std::string kernel_user = "sandbox";        // the kernel (user code) runs as this user
    std::string kernel_dir = "/tmp/ci-kernel";  // created by the kernel: connection file, sockets
    std::string workdir = "/home/sandbox";      // the kernel's HOME and working directory
    std::string python = "/usr/bin/python3";    // interpreter with ipykernel installed
};

inline constexpr std::string_view kUsage =
    "usage: ci-agent [--run-dir DIR] [--agent-user USER] [--kernel-user USER]\n"
    "                [--kernel-dir DIR] [--workdir DIR] [--python PATH]\n";

// Parses the arguments after argv[0] ("--name value" or "--name=value"). Throws
// std::invalid_argument with a one-line reason on an unknown option, a missing value, a relative
// path or a path too long for a unix socket.
Options parse_options(const std::vector<std::string>& args);

}  // namespace ci::agent
