#pragma once
// Starting the kernel as the sandbox user, and owning it.
//
// Once the agent runs as its own user it may not signal the kernel (another user; no CAP_KILL),
// and PR_SET_PDEATHSIG does not help either: the kernel checks it against the dying parent's
// credentials. So the agent forks a supervisor that drops to the kernel user and forks the
// kernel in its own process group. The supervisor exits the way the kernel did, and stops the
// kernel (SIGTERM to its process group, SIGKILL after 2 s) when the agent closes the stop pipe,
// on purpose or by exiting. The supervisor also forks the file server (file_server.hpp).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "code_interpreter/agent/connection_info.hpp"
#include "code_interpreter/agent/privileges.hpp"
#include "code_interpreter/fd/unique_fd.hpp"

namespace ci::agent {

using ci::fd::UniqueFd;

// Move-only owner of a child process. The destructor kills (when allowed) and reaps a child that
// is still running, waiting a few seconds at most for one it may not kill.
class ChildProcess {
public:
    explicit ChildProcess(pid_t pid) noexcept : pid_(pid) {}
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    pid_t pid() const noexcept { return pid_; }

    // Reaps the child if it has exited and returns its wait status; nullopt while it runs.
    std::optional<int> try_wait();

    // Like try_wait, but waits up to timeout for the child to exit.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);

private:
    void reset() noexcept;

    pid_t pid_ = -1;             // -1: nothing owned (moved from)
    std::optional<int> status_;  // the wait status, once reaped
};

// "exit status N" or "signal S".
std::string describe_wait_status(int status);

// The kernel as the agent sees it: the supervisor process, whose exit status is the kernel's.
class KernelProcess {
public:
    KernelProcess(ChildProcess supervisor, UniqueFd stop) noexcept
        : supervisor_(std::move(supervisor)), stop_(std::move(stop)) {}

    pid_t pid() const noexcept { return supervisor_.pid(); }

    // SIGTERM to the kernel's process group, SIGKILL 2 s later if it is still running.
    void request_stop() noexcept { stop_.reset(); }

    std::optional<int> try_wait() { return supervisor_.try_wait(); }
    std::optional<int> wait_for(std::chrono::milliseconds timeout) {
        return supervisor_.wait_for(timeout);
    }

private:
    // Destroyed in reverse order: the stop pipe closes first, so the supervisor is already
    // stopping the kernel when the ChildProcess destructor waits for it.
    ChildProcess supervisor_;
    UniqueFd stop_;
};

// What the kernel may use, from the container's limits (memory_limit.hpp).
struct KernelLimits {
    std::optional<std::uint64_t> data_limit;  // RLIMIT_DATA in bytes; none: unlimited
    std::optional<unsigned> blas_threads;     // OPENBLAS_NUM_THREADS; none: one per host CPU
};

struct KernelSpec {
    std::string python;
    UserAccount user;
    std::filesystem::path workdir;
    ConnectionInfo connection;
    KernelLimits limits;
};

struct StartedKernel {
    KernelProcess process;
    UniqueFd file_server;  // the agent's end of the file server's socket (file_server.hpp)
};

// ipykernel's options that make the agent's kernels lean (docs/architecture.md, "The kernel's
// configuration"). The benchmarks' raw baseline uses them too, to compare like with like.
const std::vector<std::string>& lean_kernel_options();

// Starts the supervisor, which drops to spec.user for good, takes spec.limits.data_limit
// (inherited by the file server and the kernel), forks the file server, creates the kernel
// directory and the connection file, and starts
// "<python> -m ipykernel_launcher -f <connection file> <lean_kernel_options()>" in a clean
// environment (with OPENBLAS_NUM_THREADS when spec.limits.blas_threads is set). Returns once the
// kernel's exec succeeded; throws std::runtime_error with the reason when a step failed. Call it
// while the process has a single thread (before any ZeroMQ context exists).
StartedKernel launch_kernel(const KernelSpec& spec);

}  // namespace ci::agent
