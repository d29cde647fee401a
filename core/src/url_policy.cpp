#include "url_policy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

#include <curl/curl.h>

namespace ci {
namespace {

struct CurlUrlFree {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlTextFree {
    void operator()(char* text) const { curl_free(text); }
};
struct AddrInfoFree {
    void operator()(addrinfo* info) const { freeaddrinfo(info); }
};

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

std::optional<std::string> url_part(CURLU* url, CURLUPart part, unsigned flags = 0) {
    char* raw = nullptr;
    if (curl_url_get(url, part, &raw, flags) != CURLUE_OK || !raw) return std::nullopt;
    std::unique_ptr<char, CurlTextFree> owned(raw);
    return std::string(raw);
}

struct Range {
    const char* prefix;  // network and length, as written in the rule
    std::uint8_t bytes[16];
    int bits;
    const char* name;
};

bool in_range(const std::uint8_t* address, const std::uint8_t* network, int bits) {
    for (int i = 0; i < bits / 8; ++i)
        if (address[i] != network[i]) return false;
    if (int rest = bits % 8) {
        const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
        if ((address[bits / 8] & mask) != (network[bits / 8] & mask)) return false;
    }
    return true;
}

// Checked in order: the first match names the rule.
const Range kIpv4Ranges[] = {
    {"169.254.169.254/32", {169, 254, 169, 254}, 32, "the cloud metadata address"},
    {"255.255.255.255/32", {255, 255, 255, 255}, 32, "the broadcast address"},
    {"0.0.0.0/8", {0}, 8, "unspecified ('this network')"},
    {"10.0.0.0/8", {10}, 8, "private (RFC 1918)"},
    {"100.64.0.0/10", {100, 64}, 10, "shared address space (carrier-grade NAT, RFC 6598)"},
    {"127.0.0.0/8", {127}, 8, "loopback"},
    {"169.254.0.0/16", {169, 254}, 16, "link-local"},
    {"172.16.0.0/12", {172, 16}, 12, "private (RFC 1918)"},
    {"192.0.0.0/24", {192, 0, 0}, 24, "IETF protocol assignments"},
    {"192.0.2.0/24", {192, 0, 2}, 24, "documentation"},
    {"192.88.99.0/24", {192, 88, 99}, 24, "6to4 relay anycast"},
    {"192.168.0.0/16", {192, 168}, 16, "private (RFC 1918)"},
    {"198.18.0.0/15", {198, 18}, 15, "benchmarking"},
    {"198.51.100.0/24", {198, 51, 100}, 24, "documentation"},
    {"203.0.113.0/24", {203, 0, 113}, 24, "documentation"},
    {"224.0.0.0/4", {224}, 4, "multicast"},
    {"240.0.0.0/4", {240}, 4, "reserved"},
};

const Range kIpv6Ranges[] = {
    {"::/128", {0}, 128, "unspecified"},
    {"::1/128", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    {"64:ff9b:1::/48", {0, 0x64, 0xff, 0x9b, 0, 1}, 48, "local-use NAT64"},
    {"100::/64", {1, 0}, 64, "discard-only"},
    {"2001:db8::/32", {0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {"2001::/23", {0x20, 0x01}, 23, "IETF protocol assignments (Teredo among them)"},
    {"fc00::/7", {0xfc}, 7, "unique local"},
    {"fe80::/10", {0xfe, 0x80}, 10, "link-local"},
    {"fec0::/10", {0xfe, 0xc0}, 10, "site-local (deprecated)"},
    {"ff00::/8", {0xff}, 8, "multicast"},
};

std::string describe(const Range& range) { return std::string(range.name) + " (" + range.prefix + ")"; }

std::optional<std::string> ipv4_rule(const std::uint8_t* bytes) {
    for (const Range& range : kIpv4Ranges)
        if (in_range(bytes, range.bytes, range.bits)) return describe(range);
    return std::nullopt;
}

// IPv6 forms that carry an IPv4 address: the embedded address decides, and the rule says so.
struct Embedding {
    const char* name;
    std::uint8_t prefix[16];
    int bits;
    int offset;  // where the IPv4 address sits
};
const Embedding kEmbeddings[] = {
    {"IPv4-mapped form (::ffff:0:0/96)", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 12},
    {"NAT64 form (64:ff9b::/96)", {0, 0x64, 0xff, 0x9b}, 96, 12},
    {"6to4 form (2002::/16)", {0x20, 0x02}, 16, 2},
};

}  // namespace

std::string IpAddress::text() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, bytes, buffer, sizeof buffer);
    return buffer;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
    const std::string s(text);
    IpAddress address;
    if (::inet_pton(AF_INET, s.c_str(), address.bytes) == 1) return address;
    address.family = AF_INET6;
    if (::inet_pton(AF_INET6, s.c_str(), address.bytes) == 1) return address;
    return std::nullopt;
}

std::optional<std::string> non_public_rule(const IpAddress& address) {
    if (address.family == AF_INET) return ipv4_rule(address.bytes);
    for (const Embedding& embedding : kEmbeddings) {
        if (!in_range(address.bytes, embedding.prefix, embedding.bits)) continue;
        if (auto rule = ipv4_rule(address.bytes + embedding.offset)) return std::string(embedding.name) + " of " + *rule;
        return std::nullopt;
    }
    for (const Range& range : kIpv6Ranges)
        if (in_range(address.bytes, range.bytes, range.bits)) return describe(range);
    // The rest of ::/8 holds the deprecated IPv4-compatible form among other reserved space.
    static const std::uint8_t global[16] = {0x20};
    if (!in_range(address.bytes, global, 3)) return "not global unicast (outside 2000::/3)";
    return std::nullopt;
}

std::variant<ParsedUrl, ApiError> parse_transfer_url(std::string_view url, std::string_view field) {
    const std::string name(field);
    auto invalid = [&](const std::string& why) {
        return ApiError{ErrorReason::validation_failed, name + " " + why};
    };
    if (url.empty()) return invalid("must not be empty");
    if (url.size() > 8192) return invalid("is longer than 8192 characters");
    if (url.find('\0') != std::string_view::npos) return invalid("contains a NUL byte");
    std::unique_ptr<CURLU, CurlUrlFree> handle(curl_url());
    if (!handle) return ApiError{ErrorReason::internal, "cannot allocate a URL parser"};
    const std::string text(url);
    if (CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0); rc != CURLUE_OK)
        return invalid(std::string("is not a valid URL: ") + curl_url_strerror(rc));
    ParsedUrl parsed;
    parsed.scheme = lower(url_part(handle.get(), CURLUPART_SCHEME).value_or(""));
    if (parsed.scheme != "http" && parsed.scheme != "https")
        return invalid("must be an http or https URL, not " + (parsed.scheme.empty() ? "one without a scheme" : parsed.scheme));
    auto host = url_part(handle.get(), CURLUPART_HOST);
    if (!host || host->empty()) return invalid("has no host");
    if (url_part(handle.get(), CURLUPART_ZONEID)) return invalid("has an IPv6 zone id, which is not allowed");
    parsed.host = lower(*host);
    if (parsed.host.size() > 2 && parsed.host.front() == '[' && parsed.host.back() == ']')
        parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
    auto port = url_part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    unsigned long port_number = port ? std::strtoul(port->c_str(), nullptr, 10) : 0;
    if (port_number == 0 || port_number > 65535) return invalid("has no valid port");
    parsed.port = static_cast<std::uint16_t>(port_number);
    parsed.url = url_part(handle.get(), CURLUPART_URL).value_or(text);
    return parsed;
}

std::string host_port(const ParsedUrl& url) {
    const bool v6 = url.host.find(':') != std::string::npos;
    return (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
}

std::variant<CheckedTarget, ApiError> check_target(const ParsedUrl& url, const UrlPolicy& policy) {
    const std::string where = host_port(url);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* raw = nullptr;
    if (int rc = ::getaddrinfo(url.host.c_str(), nullptr, &hints, &raw); rc != 0)
        return ApiError{ErrorReason::transfer_failed, "cannot resolve the host " + url.host + ": " + gai_strerror(rc)};
    std::unique_ptr<addrinfo, AddrInfoFree> results(raw);

    const bool allowed = !policy.protect || std::find(policy.allowed_private_hosts.begin(),
                                                      policy.allowed_private_hosts.end(),
                                                      where) != policy.allowed_private_hosts.end();
    std::optional<IpAddress> first;
    for (const addrinfo* info = results.get(); info; info = info->ai_next) {
        IpAddress address;
        if (info->ai_family == AF_INET) {
            std::memcpy(address.bytes, &reinterpret_cast<const sockaddr_in*>(info->ai_addr)->sin_addr, 4);
        } else if (info->ai_family == AF_INET6) {
            address.family = AF_INET6;
            std::memcpy(address.bytes, &reinterpret_cast<const sockaddr_in6*>(info->ai_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        if (!allowed) {
            if (auto rule = non_public_rule(address)) {
                const bool literal = address.text() == url.host;
                return ApiError{ErrorReason::url_refused,
                                "refused to reach " + where + ": " +
                                    (literal ? std::string() : "it resolves to ") + address.text() + ", which is " +
                                    *rule + "; only public addresses are allowed (files.url_allowed_private_hosts "
                                            "lists private hosts that may be reached)"};
            }
        }
        if (!first) first = address;
    }
    if (!first) return ApiError{ErrorReason::transfer_failed, "the host " + url.host + " has no IPv4 or IPv6 address"};
    return CheckedTarget{url, *first};
}

}  // namespace ci
