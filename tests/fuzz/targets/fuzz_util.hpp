#pragma once
// Helpers shared by the fuzz targets: turning bytes into frames, and property checks.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::fuzz {

// Multi-frame inputs separate their frames with a line "--", so that seeds stay readable text.
inline constexpr std::string_view kFrameSeparator = "\n--\n";

inline std::vector<std::string> split(std::string_view text, std::string_view separator) {
    std::vector<std::string> parts;
    for (;;) {
        auto at = text.find(separator);
        parts.emplace_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + separator.size());
    }
}

// A broken property is a bug like a crash: abort so that libFuzzer saves the input.
inline void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
}

// The serialization every sender in the project uses: invalid UTF-8 is replaced, never thrown.
inline std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Fixed keys: the fuzzers either sign correctly (to get past the HMAC check into the parsers)
// or not at all.
inline constexpr std::string_view kKey = "fuzz-key-0123456789abcdef";

}  // namespace ci::fuzz
