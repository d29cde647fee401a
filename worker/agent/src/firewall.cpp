#include "code_interpreter/agent/firewall.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

#include "code_interpreter/agent/kernel_process.hpp"
#include "code_interpreter/agent/log.hpp"
#include "code_interpreter/agent/signals.hpp"
#include "code_interpreter/fd/unique_fd.hpp"

namespace ci::agent {

using ci::fd::UniqueFd;

namespace {

constexpr std::string_view kChains =
    "*filter\n"
    ":INPUT DROP [0:0]\n"
    ":FORWARD DROP [0:0]\n"
    ":OUTPUT DROP [0:0]\n";

// Refusing (rather than dropping) what the worker itself sends makes user code fail at once:
// connect() gets ECONNREFUSED instead of hanging until its timeout. The answer is made locally;
// nothing leaves the worker.
constexpr std::string_view kRefuseChain = ":CI-REFUSE - [0:0]\n";
constexpr std::string_view kRefuseRules =
    "-A CI-REFUSE -p tcp -j REJECT --reject-with tcp-reset\n"
    "-A CI-REFUSE -j REJECT --reject-with icmp-admin-prohibited\n";

// A memfd holding text, positioned at its start: iptables-restore reads it as stdin. (A file
// rather than a pipe: no SIGPIPE and no deadlock whatever the tool does with its input.)
UniqueFd text_file(const std::string& text) {
    UniqueFd fd(::memfd_create("ci-firewall-rules", MFD_CLOEXEC));
    if (!fd) throw errno_error("memfd_create");
    std::string_view rest = text;
    while (!rest.empty()) {
        ssize_t n = ::write(fd.get(), rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw errno_error("writing the firewall rules");
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw errno_error("lseek");
    return fd;
}

// Runs `tool` (no arguments) with `rules` on stdin and waits for it; throws unless it exits 0.
void restore(const std::string& tool, const std::string& rules) {
    UniqueFd input = text_file(rules);
    std::vector<std::string> argv_strings = {tool};
    std::vector<char*> argv = {argv_strings[0].data(), nullptr};
    char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    char* envp[] = {path_env, nullptr};
    const pid_t pid = ::fork();
    if (pid < 0) throw errno_error("fork");
    if (pid == 0) {
        // Only async-signal-safe calls from here on. stdout goes to stderr: the agent's log.
        if (::dup2(input.get(), STDIN_FILENO) < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
            ::_exit(126);
        unblock_all_signals();
        ::execve(argv[0], argv.data(), envp);
        ::_exit(127);
    }
    int status = 0;
    pid_t rc;
    while ((rc = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (rc != pid) throw errno_error("waitpid " + tool);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const std::string why = WIFEXITED(status) && WEXITSTATUS(status) == 127
                                    ? "cannot be executed (missing from the image?)"
                                    : "failed (" + describe_wait_status(status) + ")";
        throw std::runtime_error("firewall: " + tool + " " + why);
    }
}

}  // namespace

bool is_ipv4_address(std::string_view text) {
    int parts = 0;
    std::size_t i = 0;
    while (parts < 4) {
        std::size_t start = i;
        unsigned value = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
            value = value * 10 + static_cast<unsigned>(text[i] - '0');
            ++i;
        }
        const std::size_t digits = i - start;
        if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return false;
        ++parts;
        if (parts < 4) {
            if (i >= text.size() || text[i] != '.') return false;
            ++i;
        }
    }
    return i == text.size();
}

std::string ipv4_firewall_rules(const FirewallPolicy& policy) {
    if (!is_ipv4_address(policy.gateway_ip))
        throw std::invalid_argument("firewall: '" + policy.gateway_ip + "' is not an IPv4 address");
    if (policy.agent_port == 0) throw std::invalid_argument("firewall: the agent port must not be 0");
    const std::string port = std::to_string(policy.agent_port);
    const std::string gateway = policy.gateway_ip + "/32";
    const bool internet = policy.egress == Egress::internet;

    std::string r = internet ? "# ci-agent firewall (IPv4): gateway " + gateway + " -> agent port " +
                                   port + "; egress to public addresses only\n"
                             : "# ci-agent firewall (IPv4): gateway " + gateway + " -> agent port " +
                                   port + "; no egress\n";
    r += kChains;
    r += kRefuseChain;
    r += "-A INPUT -i lo -j ACCEPT\n";
    r += "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
    r += "-A INPUT -s " + gateway + " -p tcp -m tcp --dport " + port +
         " -m conntrack --ctstate NEW -j ACCEPT\n";
    if (!internet) r += "-A OUTPUT -d " + std::string(kDockerDnsAddress) + "/32 -j CI-REFUSE\n";
    r += "-A OUTPUT -o lo -p tcp -m tcp --dport " + port + " -j CI-REFUSE\n";
    r += "-A OUTPUT -o lo -j ACCEPT\n";
    r += "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
    if (internet) {
        r += "-A OUTPUT -d " + gateway + " -j CI-REFUSE\n";
        for (std::string_view range : kBlockedEgressRanges)
            r += "-A OUTPUT -d " + std::string(range) + " -j CI-REFUSE\n";
        r += "-A OUTPUT -m conntrack --ctstate NEW -j ACCEPT\n";
    } else {
        r += "-A OUTPUT -m conntrack --ctstate NEW -j CI-REFUSE\n";
    }
    r += kRefuseRules;
    r += "COMMIT\n";
    return r;
}

std::string ipv6_firewall_rules() {
    std::string r = "# ci-agent firewall (IPv6): loopback only\n";
    r += kChains;
    r += "-A INPUT -i lo -j ACCEPT\n";
    r += "-A OUTPUT -o lo -j ACCEPT\n";
    r += "COMMIT\n";
    return r;
}

void install_firewall(const FirewallPolicy& policy, const FirewallTools& tools) {
    const std::string v4 = ipv4_firewall_rules(policy);
    restore(tools.iptables_restore, v4);
    if (::access(tools.ipv6_probe.c_str(), F_OK) == 0) {
        restore(tools.ip6tables_restore, ipv6_firewall_rules());
    } else {
        log_line("firewall: no IPv6 in this kernel (" + tools.ipv6_probe + " missing); IPv6 rules skipped");
    }
}

}  // namespace ci::agent
