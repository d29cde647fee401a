#include "log.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace ci {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
std::atomic<LogFormat> g_format{LogFormat::text};

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
    }
    return "?";
}

// "2024-05-01T12:00:00.123Z"
std::string iso8601_utc_ms(std::chrono::system_clock::time_point at) {
    auto secs = std::chrono::system_clock::to_time_t(at);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() % 1000;
    if (millis < 0) millis += 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[40];
    std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(millis));
    return stamp;
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0 when there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    auto byte = [&](std::size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
    auto in = [](unsigned b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; };
    const unsigned b0 = byte(i), b1 = byte(i + 1), b2 = byte(i + 2), b3 = byte(i + 3);
    if (b0 < 0x80) return 1;
    if (in(b0, 0xC2, 0xDF)) return in(b1, 0x80, 0xBF) ? 2 : 0;
    if (in(b0, 0xE0, 0xEF)) {
        const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
        return in(b1, lo, hi) && in(b2, 0x80, 0xBF) ? 3 : 0;
    }
    if (in(b0, 0xF0, 0xF4)) {
        const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
        return in(b1, lo, hi) && in(b2, 0x80, 0xBF) && in(b3, 0x80, 0xBF) ? 4 : 0;
    }
    return 0;
}

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }

LogLevel parse_log_level(std::string_view name) {
    for (auto level : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error})
        if (name == level_name(level)) return level;
    throw std::invalid_argument("unknown log level '" + std::string(name) +
                                "' (expected debug, info, warn or error)");
}

void set_log_format(LogFormat format) { g_format = format; }

LogFormat parse_log_format(std::string_view name) {
    if (name == "text") return LogFormat::text;
    if (name == "json") return LogFormat::json;
    throw std::invalid_argument("unknown log format '" + std::string(name) + "' (expected text or json)");
}

std::string json_escape(std::string_view message) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(message.size() + 8);
    for (std::size_t i = 0; i < message.size();) {
        const auto c = static_cast<unsigned char>(message[i]);
        const std::size_t n = utf8_sequence(message, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD for one byte that starts no valid sequence
            ++i;
            continue;
        }
        if (n > 1) {
            out.append(message.substr(i, n));
        } else if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        } else {
            out += static_cast<char>(c);
        }
        i += n;
    }
    return out;
}

std::string format_log_line(LogFormat format, std::chrono::system_clock::time_point at, LogLevel level,
                            std::string_view message) {
    const std::string ts = iso8601_utc_ms(at);
    if (format == LogFormat::json)
        return R"({"ts":")" + ts + R"(","level":")" + level_name(level) + R"(","msg":")" + json_escape(message) + "\"}\n";
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "%s %-5s ", ts.c_str(), level_name(level));
    return prefix + std::string(message) + "\n";
}

void log(LogLevel level, std::string_view message) {
    if (level < g_level.load(std::memory_order_relaxed)) return;
    const std::string line =
        format_log_line(g_format.load(std::memory_order_relaxed), std::chrono::system_clock::now(), level, message);
    // One write per line keeps lines from different threads whole.
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace ci
