#pragma once
// Starting the kernel as the sandbox user, and owning it.
//
// Once the agent runs as its own user it may not signal the kernel (another user; no CAP_KILL),
// and PR_SET_PDEATHSIG does not help either: the kernel checks it against the dying parent's
// credentials. So the agent forks a supervisor that drops to the kernel user and forks the
// kernel in its own process group. The supervisor reports the kernel's end on the link
// (kernel_link.hpp) and exits the way the kernel did, and stops the kernel (SIGTERM to its process
// group, SIGKILL after 2 s) when the agent shuts its end of the link, on purpose or by exiting.
// The supervisor also forks the file server (file_server.hpp). In a pod the supervisor is not a
// fork: it is the kernel container's own process, started as the kernel user (serve_kernel).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "code_interpreter/agent/connection_info.hpp"
#include "code_interpreter/agent/kernel_link.hpp"
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

// The exit status of a kernel that could not import a module of its preload list
// (worker/kernel/ci_kernel.py, PRELOAD_FAILED).
inline constexpr int kPreloadFailedExit = 86;

// "exit status N" (with the reason for kPreloadFailedExit) or "signal S".
std::string describe_wait_status(int status);

// The kernel as the agent sees it: the link to its supervisor (kernel_link.hpp) and, in a worker
// container, the supervisor process itself, which the agent reaps.
class KernelProcess {
public:
    KernelProcess(UniqueFd link, std::optional<ChildProcess> supervisor) noexcept;

    // Readable once the kernel has ended (the supervisor's report, or the link's end).
    int link_fd() const noexcept { return link_.get(); }

    // SIGTERM to the kernel's process group, SIGKILL 2 s later if it is still running.
    void request_stop() noexcept;

    std::optional<KernelEnd> try_wait() { return wait_for(std::chrono::milliseconds(0)); }
    // Like try_wait, but waits up to timeout for the kernel to end.
    std::optional<KernelEnd> wait_for(std::chrono::milliseconds timeout);

private:
    // Destroyed in reverse order: the link closes first, so the supervisor is already stopping
    // the kernel when the ChildProcess destructor waits for it.
    std::optional<ChildProcess> supervisor_;
    UniqueFd link_;
    std::optional<KernelEnd> end_;
};

// What the kernel may use, from the container's limits (memory_limit.hpp).
struct KernelLimits {
    std::optional<std::uint64_t> data_limit;  // RLIMIT_DATA in bytes; none: unlimited
    std::optional<unsigned> blas_threads;     // OPENBLAS_NUM_THREADS; none: one per host CPU
};

struct KernelSpec {
    std::string python;
    std::string user_name;  // the kernel's USER and LOGNAME
    std::filesystem::path workdir;
    std::filesystem::path kernel_dir;  // created by the supervisor; must not exist yet
    KernelLimits limits;
    std::vector<std::string> preload;  // module names (protocol::is_module_name), imported at start
};

struct StartedKernel {
    KernelProcess process;
    UniqueFd file_server;  // the agent's end of the file server's socket (file_server.hpp)
    ConnectionInfo connection;
};

// ipykernel's options that make the agent's kernels lean (docs/architecture.md, "The kernel's
// configuration"). The benchmarks' raw baseline uses them too, to compare like with like.
const std::vector<std::string>& lean_kernel_options();

// The option that has the kernel import modules (checked names) before it serves its first
// request, through worker/kernel/ci_kernel.py's preload(): nothing when the list is empty.
std::vector<std::string> preload_options(const std::vector<std::string>& modules);

// What the supervisor does, in either place: takes spec.limits.data_limit (inherited by the file
// server and the kernel), forks the file server, creates the kernel directory and the connection
// file (with a new kernel key) and starts
// "<python> -m ipykernel_launcher -f <connection file> <lean_kernel_options()>
// <preload_options(spec.preload)>" in a clean environment (with OPENBLAS_NUM_THREADS when
// spec.limits.blas_threads is set), then reports on the link and supervises the kernel.

// Role worker: forks the supervisor, which first drops to kernel_user for good. Returns once the
// kernel's exec succeeded; throws std::runtime_error with the reason when a step failed or the
// report took longer than timeout. Call it while the process has a single thread (before any
// ZeroMQ context exists).
StartedKernel launch_kernel(const KernelSpec& spec, const UserAccount& kernel_user,
                            std::chrono::milliseconds timeout);

// Role agent: the supervisor is the kernel container's (serve_kernel); connects to its link.
StartedKernel connect_kernel(const std::filesystem::path& link_path, std::chrono::milliseconds timeout);

// Role kernel: this process becomes the supervisor, as the user it runs as, once the agent has
// connected to link_path (within timeout). Returns only by throwing, before the agent connected.
[[noreturn]] void serve_kernel(const KernelSpec& spec, const std::filesystem::path& link_path,
                               std::chrono::milliseconds timeout);

}  // namespace ci::agent
