#pragma once
// The gateway's log: one line per event on stderr. Never log tokens or user code.
#include <string>
#include <string_view>

#include "code_interpreter/plugin/context.hpp"

namespace ci {

using LogLevel = plugin::LogLevel;

void set_log_level(LogLevel level);
// Parses "debug" | "info" | "warn" | "error"; throws std::invalid_argument otherwise.
LogLevel parse_log_level(std::string_view name);
void log(LogLevel level, std::string_view message);

inline void log_debug(std::string_view m) { log(LogLevel::debug, m); }
inline void log_info(std::string_view m) { log(LogLevel::info, m); }
inline void log_warn(std::string_view m) { log(LogLevel::warn, m); }
inline void log_error(std::string_view m) { log(LogLevel::error, m); }

}  // namespace ci
