#pragma once
// Tells from a failure's text whether the host ran out of something, so that the core can show it
// and back off (FailureKind::exhausted). Text rather than errno: every failure carries strerror's
// words (the gateway keeps the C locale), Docker's errors arrive as Go's words, and mkfs runs under
// LC_ALL=C; and wrappers that only prefix a message cannot lose the kind. Header-only: shared by
// the docker backend and the loop-disk storage plugin, which link nothing of each other.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "code_interpreter/plugin/result.hpp"

namespace ci::host_failure {

// When `text` says the host ran out of something: what to tell the operator first ("" if nothing).
inline std::optional<std::string_view> exhaustion_prefix(std::string_view text) {
    struct Sign {
        std::string_view words;  // lower case
        std::string_view prefix;
    };
    static constexpr Sign kSigns[] = {
        {"no space left on device", "host disk full"},  // ENOSPC
        {"disk quota exceeded", "host disk full"},      // EDQUOT
        {"too many open files", ""},                    // EMFILE, ENFILE ("... in system")
        {"address pool", ""},  // Docker: no free subnet for a network, no free address in one
    };
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    for (const auto& sign : kSigns)
        if (lower.find(sign.words) != std::string::npos) return sign.prefix;
    return std::nullopt;
}

// A failed Status or Result<T> of kind `known`; when that is `other`, of kind exhausted if the text
// says the host ran out of something.
template <class R>
R failure(std::string message, ci::plugin::FailureKind known = ci::plugin::FailureKind::other) {
    if (known != ci::plugin::FailureKind::other) return R::failure(std::move(message), known);
    const auto prefix = exhaustion_prefix(message);
    if (!prefix) return R::failure(std::move(message));
    return R::failure(prefix->empty() ? std::move(message) : std::string(*prefix) + ": " + message,
                      ci::plugin::FailureKind::exhausted);
}

}  // namespace ci::host_failure
