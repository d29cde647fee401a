// The worker's firewall rules (iptables-restore input) and the agent options that select them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "code_interpreter/agent/firewall.hpp"
#include "code_interpreter/agent/options.hpp"

namespace ci::agent {
namespace {

using ::testing::HasSubstr;

// The rule lines, without comments.
std::vector<std::string> rule_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#') lines.push_back(line);
    return lines;
}

TEST(HardeningFirewall, InternalModeLetsOnlyTheGatewayInAndNothingOut) {
    const std::string rules = ipv4_firewall_rules({"10.213.0.1", 5555, Egress::none});
    EXPECT_EQ(rule_lines(rules), (std::vector<std::string>{
                                     "*filter",
                                     ":INPUT DROP [0:0]",
                                     ":FORWARD DROP [0:0]",
                                     ":OUTPUT DROP [0:0]",
                                     ":CI-REFUSE - [0:0]",
                                     "-A INPUT -i lo -j ACCEPT",
                                     "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                                     "-A INPUT -s 10.213.0.1/32 -p tcp -m tcp --dport 5555 -m conntrack "
                                     "--ctstate NEW -j ACCEPT",
                                     "-A OUTPUT -d 127.0.0.11/32 -j CI-REFUSE",
                                     "-A OUTPUT -o lo -p tcp -m tcp --dport 5555 -j CI-REFUSE",
                                     "-A OUTPUT -o lo -j ACCEPT",
                                     "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                                     "-A OUTPUT -m conntrack --ctstate NEW -j CI-REFUSE",
                                     "-A CI-REFUSE -p tcp -j REJECT --reject-with tcp-reset",
                                     "-A CI-REFUSE -j REJECT --reject-with icmp-admin-prohibited",
                                     "COMMIT",
                                 }));
    // Comments name what the rules are for; the text ends with a newline for iptables-restore.
    EXPECT_EQ(rules.front(), '#');
    EXPECT_EQ(rules.back(), '\n');
}

TEST(HardeningFirewall, InternetModeAllowsNewConnectionsToPublicAddressesOnly) {
    const auto lines = rule_lines(ipv4_firewall_rules({"172.30.5.1", 6000, Egress::internet}));
    std::vector<std::string> output;
    for (const auto& line : lines)
        if (line.rfind("-A OUTPUT", 0) == 0) output.push_back(line);
    std::vector<std::string> expected = {
        "-A OUTPUT -o lo -p tcp -m tcp --dport 6000 -j CI-REFUSE",
        "-A OUTPUT -o lo -j ACCEPT",
        "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A OUTPUT -d 172.30.5.1/32 -j CI-REFUSE",
    };
    for (auto range : kBlockedEgressRanges) expected.push_back("-A OUTPUT -d " + std::string(range) + " -j CI-REFUSE");
    expected.push_back("-A OUTPUT -m conntrack --ctstate NEW -j ACCEPT");
    EXPECT_EQ(output, expected);
    // DNS through Docker's resolver stays possible; INPUT is the same as in the internal mode.
    for (const auto& line : lines) EXPECT_THAT(line, ::testing::Not(HasSubstr("127.0.0.11")));
    EXPECT_THAT(lines, ::testing::Contains("-A INPUT -s 172.30.5.1/32 -p tcp -m tcp --dport 6000 -m conntrack "
                                           "--ctstate NEW -j ACCEPT"));
    EXPECT_THAT(lines, ::testing::Contains(":OUTPUT DROP [0:0]"));
    EXPECT_THAT(lines, ::testing::Contains("-A CI-REFUSE -p tcp -j REJECT --reject-with tcp-reset"));
}

TEST(HardeningFirewall, BlockedRangesCoverPrivateSharedLinkLocalAndMulticast) {
    for (const char* range : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
                              "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"})
        EXPECT_THAT(kBlockedEgressRanges, ::testing::Contains(std::string_view(range))) << range;
}

TEST(HardeningFirewall, Ipv6AllowsLoopbackOnly) {
    EXPECT_EQ(rule_lines(ipv6_firewall_rules()),
              (std::vector<std::string>{"*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT DROP [0:0]",
                                        "-A INPUT -i lo -j ACCEPT", "-A OUTPUT -o lo -j ACCEPT", "COMMIT"}));
}

TEST(HardeningFirewall, RefusesAnythingButAPlainIpv4Gateway) {
    for (const char* bad : {"", "10.0.0", "10.0.0.1.2", "10.0.0.256", "010.0.0.1", "10.0.0.1/32", " 10.0.0.1",
                            "10.0.0.1\n-A INPUT -j ACCEPT", "::1", "gateway"})
        EXPECT_THROW(ipv4_firewall_rules({bad, 5555, Egress::none}), std::invalid_argument) << bad;
    EXPECT_THROW(ipv4_firewall_rules({"10.0.0.1", 0, Egress::none}), std::invalid_argument);
    EXPECT_TRUE(is_ipv4_address("0.0.0.0"));
    EXPECT_TRUE(is_ipv4_address("255.255.255.255"));
    EXPECT_FALSE(is_ipv4_address("1.2.3.4 "));
}

TEST(HardeningFirewall, MissingToolIsAClearError) {
    // Fails before touching any rule: the tool cannot be executed.
    FirewallTools tools;
    tools.iptables_restore = "/nonexistent/iptables-restore";
    try {
        install_firewall({"10.0.0.1", 5555, Egress::none}, tools);
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("/nonexistent/iptables-restore cannot be executed"));
    }
}

TEST(HardeningAgentOptions, TcpListenNeedsAllowFromAndValidValues) {
    const Options tcp = parse_options({"--listen", "tcp://0.0.0.0:5555", "--allow-from", "10.213.0.1"});
    EXPECT_EQ(tcp.listen, "tcp://0.0.0.0:5555");
    EXPECT_EQ(tcp.allow_from, "10.213.0.1");
    EXPECT_EQ(tcp.egress, "none");
    const auto address = parse_tcp_listen(tcp.listen);
    ASSERT_TRUE(address);
    EXPECT_EQ(address->ip, "0.0.0.0");
    EXPECT_EQ(address->port, 5555);
    EXPECT_EQ(parse_options({"--listen=tcp://10.0.0.2:1", "--allow-from=10.0.0.1", "--egress=internet"}).egress,
              "internet");
    EXPECT_TRUE(parse_options({}).listen.empty());  // ipc in the run dir by default

    const std::vector<std::vector<std::string>> bad = {
        {"--listen", "tcp://0.0.0.0:5555"},                                   // no firewall peer
        {"--listen", "ipc:///tmp/x", "--allow-from", "10.0.0.1"},             // not tcp
        {"--listen", "tcp://0.0.0.0:0", "--allow-from", "10.0.0.1"},          // port 0
        {"--listen", "tcp://0.0.0.0:65536", "--allow-from", "10.0.0.1"},      // port too big
        {"--listen", "tcp://*:5555", "--allow-from", "10.0.0.1"},             // not an address
        {"--listen", "tcp://0.0.0.0:5555", "--allow-from", "10.0.0.0/8"},     // not one address
        {"--listen", "tcp://0.0.0.0:5555", "--allow-from", "10.0.0.1", "--egress", "all"},
        {"--allow-from", "10.0.0.1"},                                         // without --listen
        {"--egress", "internet"},                                             // without --listen
    };
    for (const auto& args : bad) {
        std::string joined;
        for (const auto& a : args) joined += a + " ";
        EXPECT_THROW(parse_options(args), std::invalid_argument) << joined;
    }
}

}  // namespace
}  // namespace ci::agent
