#pragma once
// HMAC-SHA256 signing and random secrets, shared by the gateway and the agent.
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ci::crypto {

// Lower-case hex HMAC-SHA256 of the concatenation of parts, keyed with key.
std::string hmac_sha256_hex(std::string_view key, std::initializer_list<std::string_view> parts);

// Compares without leaking where the first difference is (the length may leak).
bool constant_time_equal(std::string_view a, std::string_view b);

// bytes random bytes from the OS CSPRNG, as lower-case hex (2 * bytes characters).
std::string random_hex(std::size_t bytes);

}  // namespace ci::crypto
