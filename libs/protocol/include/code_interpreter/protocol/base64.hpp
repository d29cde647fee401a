#pragma once
// Standard base64 (RFC 4648, with padding, no line breaks), for file contents in the agent protocol.
#include <optional>
#include <string>
#include <string_view>

namespace ci::protocol {

std::string base64_encode(std::string_view bytes);

// The decoded bytes, or nullopt when text is not canonical padded base64 (whitespace and line
// breaks included: the gateway sends one plain string).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ci::protocol
