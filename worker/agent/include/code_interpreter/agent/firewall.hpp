#pragma once
// The worker's own firewall in the networked modes: written as iptables-restore input and
// installed by the agent while it is still root (CAP_NET_ADMIN), before the kernel starts.
//
// The container's network namespace is the worker's alone, so the rules filter only its traffic:
//   INPUT   loopback; replies; new TCP connections from the gateway's address to the agent port.
//   OUTPUT  loopback (but not the agent port: user code must not talk to its agent); replies;
//           egress none:     nothing else, and not Docker's embedded DNS resolver 127.0.0.11
//                            either (Docker 20.10 forwards its queries upstream even for an
//                            internal network, which would be a way out);
//           egress internet: new connections to public addresses only (never the gateway, other
//                            workers, private, shared, link-local/metadata, loopback, multicast
//                            or reserved ranges).
//   What OUTPUT refuses it rejects (TCP reset, else ICMP admin-prohibited), answered locally, so
//   user code fails at once instead of waiting for a timeout. Policy DROP in every chain, for
//   everything else (incoming connections from anyone but the gateway, invalid packets).
//   IPv6: everything but loopback dropped.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ci::agent {

enum class Egress { none, internet };

struct FirewallPolicy {
    std::string gateway_ip;         // dotted-quad IPv4: the only peer allowed to connect
    std::uint16_t agent_port = 5555;
    Egress egress = Egress::none;
};

// Destinations a worker with internet egress may still not open connections to.
inline constexpr std::array<std::string_view, 14> kBlockedEgressRanges = {
    "0.0.0.0/8",       // "this network"
    "10.0.0.0/8",      // private (RFC 1918)
    "100.64.0.0/10",   // shared address space (carrier-grade NAT, RFC 6598)
    "127.0.0.0/8",     // loopback (the host's, reached other than through lo)
    "169.254.0.0/16",  // link-local, including the 169.254.169.254 metadata services
    "172.16.0.0/12",   // private (RFC 1918): Docker's own networks live here by default
    "192.0.0.0/24",    // IETF protocol assignments
    "192.0.2.0/24",    // documentation (TEST-NET-1)
    "192.168.0.0/16",  // private (RFC 1918)
    "198.18.0.0/15",   // benchmarking, used inside some networks
    "198.51.100.0/24", // documentation (TEST-NET-2)
    "203.0.113.0/24",  // documentation (TEST-NET-3)
    "224.0.0.0/4",     // multicast
    "240.0.0.0/4",     // reserved, and the limited broadcast 255.255.255.255
};

// Docker's embedded DNS resolver inside a container on a user-defined network.
inline constexpr std::string_view kDockerDnsAddress = "127.0.0.11";

// True for a canonical dotted-quad IPv4 address ("10.0.0.1"; no leading zeros, no spaces).
bool is_ipv4_address(std::string_view text);

// iptables-restore input for the filter table. Throws std::invalid_argument when gateway_ip is
// not an IPv4 address or agent_port is 0.
std::string ipv4_firewall_rules(const FirewallPolicy& policy);

// ip6tables-restore input for the filter table: loopback only.
std::string ipv6_firewall_rules();

struct FirewallTools {
    // The nf_tables variants: they need only CAP_NET_ADMIN (no raw sockets) and no lock file
    // on the read-only root file system.
    std::string iptables_restore = "/usr/sbin/iptables-nft-restore";
    std::string ip6tables_restore = "/usr/sbin/ip6tables-nft-restore";
    // IPv6 rules are skipped only when the kernel has no IPv6 at all (this file is missing).
    std::string ipv6_probe = "/proc/net/if_inet6";
};

// Installs both rule sets (flushing the filter tables first; other tables, such as the nat rules
// Docker adds for its DNS resolver, are left alone). Needs root with CAP_NET_ADMIN; call while
// the process is single-threaded. Throws std::runtime_error naming the tool and its exit status.
void install_firewall(const FirewallPolicy& policy, const FirewallTools& tools = {});

}  // namespace ci::agent
