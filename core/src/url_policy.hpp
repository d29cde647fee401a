#pragma once
// Which remote URLs the gateway may download from or upload to for a user (the original's file
// transfer by URL), so that a caller cannot make the gateway reach what only the gateway can
// reach (server-side request forgery):
// - http and https only;
// - the host is resolved once, and every address it resolves to must be public (the table in
//   url_policy.cpp: loopback, private, shared, link-local and metadata, multicast, reserved,
//   documentation, IPv6 unique-local and link-local, and the IPv4-mapped, NAT64 and 6to4 forms
//   of those are not); the transfer then connects to the checked address only (url_transfer.cpp
//   pins it), so a second lookup cannot change the answer;
// - a host:port in allowed_private_hosts (a private object store, say) skips the address check;
// - protect = false turns the address check off (the original's SSRF_PROTECTION_ENABLED=false).
// Every refusal names the rule that fired.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <netinet/in.h>

#include "api_error.hpp"

namespace ci {

struct UrlPolicy {
    bool protect = true;
    std::vector<std::string> allowed_private_hosts;  // "host:port", host lower-case
};

// A URL as curl will use it.
struct ParsedUrl {
    std::string url;     // normalised by curl's URL parser
    std::string scheme;  // "http" | "https"
    std::string host;    // lower-case; an IPv6 literal without brackets
    std::uint16_t port = 0;
};

// The URL's parts, or a validation_failed error naming field (a bad syntax or scheme).
std::variant<ParsedUrl, ApiError> parse_transfer_url(std::string_view url, std::string_view field);

// An address of either family.
struct IpAddress {
    int family = AF_INET;  // AF_INET | AF_INET6
    std::uint8_t bytes[16] = {};  // network order; 4 used for AF_INET
    std::string text() const;
};

std::optional<IpAddress> parse_ip(std::string_view text);

// The rule an address breaks ("loopback (127.0.0.0/8)"), or nullopt when it is public.
std::optional<std::string> non_public_rule(const IpAddress& address);

// Where a transfer may connect: the URL and the one address it was checked against.
struct CheckedTarget {
    ParsedUrl url;
    IpAddress address;
};

// Resolves url.host once and applies the policy: url_refused (422) naming the rule, or
// transfer_failed (502) when the name does not resolve.
std::variant<CheckedTarget, ApiError> check_target(const ParsedUrl& url, const UrlPolicy& policy);

// "host:port" (brackets around an IPv6 host), as allowed_private_hosts spells it.
std::string host_port(const ParsedUrl& url);

}  // namespace ci
