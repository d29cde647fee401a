// The rules for the URLs of transfers by URL: which addresses are public, which URLs parse, and
// what resolving a host decides (names from /etc/hosts only: no network needed).
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include "url_policy.hpp"

namespace ci {
namespace {

using ::testing::HasSubstr;

std::string rule_of(const std::string& text) {
    auto address = parse_ip(text);
    if (!address) return "unparsable";
    return non_public_rule(*address).value_or("public");
}

TEST(UrlPolicy, EveryNonPublicIpv4RangeIsNamed) {
    const std::pair<const char*, const char*> cases[] = {
        {"127.0.0.1", "loopback (127.0.0.0/8)"},
        {"127.255.0.9", "loopback (127.0.0.0/8)"},
        {"10.1.2.3", "private (RFC 1918) (10.0.0.0/8)"},
        {"172.16.0.1", "private (RFC 1918) (172.16.0.0/12)"},
        {"172.31.255.255", "private (RFC 1918) (172.16.0.0/12)"},
        {"192.168.1.1", "private (RFC 1918) (192.168.0.0/16)"},
        {"100.64.0.1", "shared address space (carrier-grade NAT, RFC 6598) (100.64.0.0/10)"},
        {"100.127.255.254", "shared address space (carrier-grade NAT, RFC 6598) (100.64.0.0/10)"},
        {"169.254.169.254", "the cloud metadata address (169.254.169.254/32)"},
        {"169.254.1.1", "link-local (169.254.0.0/16)"},
        {"0.0.0.0", "unspecified ('this network') (0.0.0.0/8)"},
        {"224.0.0.1", "multicast (224.0.0.0/4)"},
        {"239.255.255.250", "multicast (224.0.0.0/4)"},
        {"240.0.0.1", "reserved (240.0.0.0/4)"},
        {"255.255.255.255", "the broadcast address (255.255.255.255/32)"},
        {"192.0.2.10", "documentation (192.0.2.0/24)"},
        {"198.18.5.5", "benchmarking (198.18.0.0/15)"},
    };
    for (const auto& [address, rule] : cases) EXPECT_EQ(rule_of(address), rule) << address;
}

TEST(UrlPolicy, PublicIpv4AddressesAndTheEdgesAroundPrivateRangesPass) {
    for (const char* address : {"8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.0", "100.63.255.255",
                                "100.128.0.0", "169.253.255.255", "11.0.0.0", "192.169.0.0", "223.255.255.255"})
        EXPECT_EQ(rule_of(address), "public") << address;
}

TEST(UrlPolicy, Ipv6RangesAndTheIpv4FormsInsideThem) {
    const std::pair<const char*, const char*> cases[] = {
        {"::1", "loopback (::1/128)"},
        {"::", "unspecified (::/128)"},
        {"fc00::1", "unique local (fc00::/7)"},
        {"fd12:3456::1", "unique local (fc00::/7)"},
        {"fe80::1", "link-local (fe80::/10)"},
        {"ff02::1", "multicast (ff00::/8)"},
        {"2001:db8::1", "documentation (2001:db8::/32)"},
        {"64:ff9b:1::1", "local-use NAT64 (64:ff9b:1::/48)"},
        {"::ffff:127.0.0.1", "IPv4-mapped form (::ffff:0:0/96) of loopback (127.0.0.0/8)"},
        {"::ffff:169.254.169.254",
         "IPv4-mapped form (::ffff:0:0/96) of the cloud metadata address (169.254.169.254/32)"},
        {"64:ff9b::10.0.0.1", "NAT64 form (64:ff9b::/96) of private (RFC 1918) (10.0.0.0/8)"},
        {"2002:c0a8:0101::1", "6to4 form (2002::/16) of private (RFC 1918) (192.168.0.0/16)"},
        {"::127.0.0.1", "not global unicast (outside 2000::/3)"},
    };
    for (const auto& [address, rule] : cases) EXPECT_EQ(rule_of(address), rule) << address;
    for (const char* address : {"2606:4700::1111", "2a00:1450::1", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8",
                                "2002:0808:0808::1"})
        EXPECT_EQ(rule_of(address), "public") << address;
}

TEST(UrlPolicy, OnlyHttpAndHttpsUrlsWithAHostParse) {
    for (const char* bad : {"file:///etc/passwd", "ftp://example.com/a", "gopher://example.com", "http://",
                            "not a url", "", "http://[fe80::1%25eth0]/"}) {
        auto parsed = parse_transfer_url(bad, "download_url");
        ASSERT_TRUE(std::holds_alternative<ApiError>(parsed)) << bad;
        EXPECT_EQ(std::get<ApiError>(parsed).reason, ErrorReason::validation_failed) << bad;
        EXPECT_THAT(std::get<ApiError>(parsed).message, HasSubstr("download_url")) << bad;
    }
    auto parsed = parse_transfer_url("HTTPS://Bucket.Example.COM/a%20b?X-Sig=1", "u");
    ASSERT_TRUE(std::holds_alternative<ParsedUrl>(parsed));
    const auto& url = std::get<ParsedUrl>(parsed);
    EXPECT_EQ(url.scheme, "https");
    EXPECT_EQ(url.host, "bucket.example.com");
    EXPECT_EQ(url.port, 443);
    EXPECT_EQ(host_port(url), "bucket.example.com:443");
    auto v6 = std::get<ParsedUrl>(parse_transfer_url("http://[::1]:9000/x", "u"));
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(host_port(v6), "[::1]:9000");
}

TEST(UrlPolicy, NumericHostSpellingsAreCheckedAsTheAddressTheyMean) {
    // Decimal, hexadecimal and short forms of 127.0.0.1 all land on loopback.
    for (const char* url : {"http://2130706433/", "http://0x7f000001/", "http://127.1/", "http://0177.0.0.1/"}) {
        auto parsed = parse_transfer_url(url, "u");
        ASSERT_TRUE(std::holds_alternative<ParsedUrl>(parsed)) << url;
        auto checked = check_target(std::get<ParsedUrl>(parsed), UrlPolicy{});
        ASSERT_TRUE(std::holds_alternative<ApiError>(checked)) << url;
        EXPECT_EQ(std::get<ApiError>(checked).reason, ErrorReason::url_refused) << url;
        EXPECT_THAT(std::get<ApiError>(checked).message, HasSubstr("loopback")) << url;
    }
}

TEST(UrlPolicy, ANameResolvingToLoopbackIsRefusedUnlessAllowedOrUnprotected) {
    auto url = std::get<ParsedUrl>(parse_transfer_url("http://localhost:8080/file", "u"));
    auto refused = check_target(url, UrlPolicy{});
    ASSERT_TRUE(std::holds_alternative<ApiError>(refused));
    EXPECT_EQ(std::get<ApiError>(refused).reason, ErrorReason::url_refused);
    EXPECT_THAT(std::get<ApiError>(refused).message, HasSubstr("resolves to"));
    EXPECT_THAT(std::get<ApiError>(refused).message, HasSubstr("loopback"));

    auto allowed = check_target(url, UrlPolicy{true, {"localhost:8080"}});
    ASSERT_TRUE(std::holds_alternative<CheckedTarget>(allowed));
    EXPECT_EQ(non_public_rule(std::get<CheckedTarget>(allowed).address).value_or("public").find("loopback"), 0u);
    // The allowance is for that port only.
    auto other_port = std::get<ParsedUrl>(parse_transfer_url("http://localhost:8081/file", "u"));
    EXPECT_TRUE(std::holds_alternative<ApiError>(check_target(other_port, UrlPolicy{true, {"localhost:8080"}})));
    EXPECT_TRUE(std::holds_alternative<CheckedTarget>(check_target(other_port, UrlPolicy{false, {}})));
}

TEST(UrlPolicy, AnUnknownHostIsATransferFailure) {
    auto url = std::get<ParsedUrl>(parse_transfer_url("http://no-such-host.invalid/", "u"));
    auto checked = check_target(url, UrlPolicy{});
    ASSERT_TRUE(std::holds_alternative<ApiError>(checked));
    EXPECT_EQ(std::get<ApiError>(checked).reason, ErrorReason::transfer_failed);
}

}  // namespace
}  // namespace ci
