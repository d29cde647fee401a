#pragma once
// The agent (and the kernel's supervisor) take SIGCHLD, SIGTERM and SIGINT through a signalfd,
// in their poll loops.
#include <optional>

#include "code_interpreter/fd/unique_fd.hpp"

namespace ci::agent {

using ci::fd::UniqueFd;

// Blocks the three signals in the calling thread. Call before any thread exists, so ZeroMQ's
// threads inherit the mask and the signals stay pending for the signalfd.
void block_agent_signals();

// Unblocks every signal; for the kernel before its exec (the mask survives exec).
void unblock_all_signals();

// A non-blocking, close-on-exec signalfd for the three signals.
UniqueFd open_signal_fd();

// The next pending signal's number, or nullopt when none is pending.
std::optional<int> read_signal(const UniqueFd& fd);

}  // namespace ci::agent
