#pragma once
// The link between the agent and the kernel's supervisor (kernel_process.hpp): a unix
// SOCK_SEQPACKET connection, so each message arrives whole. In a worker container it is a
// socketpair across the fork; in a pod the supervisor runs in a container of its own as the
// kernel user (--role kernel), listens on a socket file on a volume both containers mount, and
// takes exactly one connection, the agent's, before any user code runs.
//
// Supervisor -> agent:
//   {"started": {"kernel_dir": D, "key": K}} with the file server's socket attached (SCM_RIGHTS),
//   or {"failed": "<why>"}, after which the supervisor exits;
//   {"exit": <wait status>} once the kernel has exited, just before the supervisor does.
// Agent -> supervisor: nothing. The agent's end shut for writing, or closed (the agent exited),
// tells the supervisor to stop the kernel.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "code_interpreter/agent/connection_info.hpp"
#include "code_interpreter/fd/unique_fd.hpp"

namespace ci::agent {

using ci::fd::UniqueFd;

// A connected pair: {agent's end, supervisor's end}, both close-on-exec.
std::pair<UniqueFd, UniqueFd> make_link_pair();

// The supervisor's side in a pod: binds path (replacing a stale socket file, mode 0660: the
// agent reaches it through the kernel's group), waits up to timeout for the one connection, then
// removes the socket file. Throws std::runtime_error on failure or timeout.
UniqueFd accept_link(const std::filesystem::path& path, std::chrono::milliseconds timeout);

// The agent's side in a pod: connects to path, retrying while the supervisor's container is still
// starting (no file yet, or nobody listening), up to timeout.
UniqueFd connect_link(const std::filesystem::path& path, std::chrono::milliseconds timeout);

void send_started(int link, const ConnectionInfo& connection, int file_server);
// Best effort: the agent may already be gone.
void send_failed(int link, std::string_view why) noexcept;
void send_exit(int link, int wait_status) noexcept;

struct StartReport {
    ConnectionInfo connection;
    UniqueFd file_server;
};
// Waits up to timeout for the supervisor's first message. Throws std::runtime_error with the
// supervisor's reason, or saying it closed the link or did not answer in time.
StartReport receive_start(int link, std::chrono::milliseconds timeout);

// How the kernel ended, as the link told it.
struct KernelEnd {
    std::optional<int> wait_status;  // none: the supervisor ended without saying (it was killed)
};
std::string describe(const KernelEnd& end);

// Waits up to timeout (zero: only looks) for the supervisor's exit message or the link's end.
// nullopt while the kernel runs.
std::optional<KernelEnd> receive_end(int link, std::chrono::milliseconds timeout);

}  // namespace ci::agent
