#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace ci {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
    }
    return "?";
}

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }

LogLevel parse_log_level(std::string_view name) {
    for (auto level : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error})
        if (name == level_name(level)) return level;
    throw std::invalid_argument("unknown log level '" + std::string(name) +
                                "' (expected debug, info, warn or error)");
}

void log(LogLevel level, std::string_view message) {
    if (level < g_level.load(std::memory_order_relaxed)) return;
    auto now = std::chrono::system_clock::now();
    auto secs = std::chrono::system_clock::to_time_t(now);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    // One fprintf per line keeps lines from different threads whole.
    std::fprintf(stderr, "%s.%03dZ %-5s %.*s\n", stamp, static_cast<int>(millis.count()),
                 level_name(level), static_cast<int>(message.size()), message.data());
}

}  // namespace ci
