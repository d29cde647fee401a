#pragma once
// The agent's log: one line per event on stderr. Never pass user code, outputs or keys here.
#include <string>
#include <string_view>
#include <system_error>

namespace ci::agent {

void log_line(std::string_view message);

// A std::system_error for the current errno, whose what() reads "<what>: <strerror>".
std::system_error errno_error(const std::string& what);

}  // namespace ci::agent
