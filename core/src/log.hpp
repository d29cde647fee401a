#pragma once
// The gateway's log: one line per event on stderr, as text or as one JSON object per line.
// Never log tokens, agent keys or user code.
#include <chrono>
#include <string>
#include <string_view>

#include "code_interpreter/plugin/context.hpp"

namespace ci {

using LogLevel = plugin::LogLevel;

enum class LogFormat { text, json };

void set_log_level(LogLevel level);
// Parses "debug" | "info" | "warn" | "error"; throws std::invalid_argument otherwise.
LogLevel parse_log_level(std::string_view name);
void set_log_format(LogFormat format);
// Parses "text" | "json"; throws std::invalid_argument otherwise.
LogFormat parse_log_format(std::string_view name);
void log(LogLevel level, std::string_view message);

inline void log_debug(std::string_view m) { log(LogLevel::debug, m); }
inline void log_info(std::string_view m) { log(LogLevel::info, m); }
inline void log_warn(std::string_view m) { log(LogLevel::warn, m); }
inline void log_error(std::string_view m) { log(LogLevel::error, m); }

// One log line, with its newline. text: "<ts> <level> <message>"; json: {"ts","level","msg"}
// where any byte sequence of the message that is not UTF-8 becomes U+FFFD.
std::string format_log_line(LogFormat format, std::chrono::system_clock::time_point at, LogLevel level,
                            std::string_view message);
// message as the contents of a JSON string (without the quotes), always valid UTF-8.
std::string json_escape(std::string_view message);

}  // namespace ci
