#pragma once
// The agent's start-up sequence, from root to a running poll loop.
#include "code_interpreter/agent/options.hpp"

namespace ci::agent {

// Starts the kernel, drops privileges, reads the gateway key, connects and serves. Returns the
// process exit status; throws std::exception with a one-line reason when set-up fails.
int run_agent(const Options& options);

}  // namespace ci::agent
