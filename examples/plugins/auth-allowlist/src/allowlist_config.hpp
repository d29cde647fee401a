#pragma once
// The [plugins.<name>] table of the auth-allowlist plugin:
//   tokens            = ["...", ...]   user tokens
//   tokens_file       = "path"         more user tokens, one per line
//   admin_tokens      = ["...", ...]   admin tokens (also allowed on user routes)
//   admin_tokens_file = "path"         more admin tokens, one per line
// At least one user token is required. Files are resolved against config.toml's directory, must be
// regular files not readable by group or others, and may hold blank lines and '#' comments.
#include <string>
#include <vector>

#include "code_interpreter/plugin/context.hpp"

namespace ci::example {

struct AllowlistConfig {
    std::vector<std::string> user_tokens;
    std::vector<std::string> admin_tokens;
};

// Each token: 16 to 4096 characters of RFC 6750's token68 alphabet (A-Z a-z 0-9 - . _ ~ + /,
// then optional '='), so that any configured token can be sent in an Authorization header.
inline constexpr std::size_t kMinTokenLength = 16;
inline constexpr std::size_t kMaxTokenLength = 4096;

// Throws std::invalid_argument naming the key (and, for a bad token, its position, never its
// value) or std::runtime_error naming an unusable file.
AllowlistConfig parse_allowlist_config(const plugin::PluginContext& context);

}  // namespace ci::example
