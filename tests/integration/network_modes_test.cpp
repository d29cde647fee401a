// The docker backend's network modes on the real stack: the networks it creates, the firewall rules
// the agent installs in each worker, what user code can and cannot reach through them, the
// container's create request, the image, and start-up over networks left by an earlier run. The
// attacks user code can make on its own privileges, its agent and the host (in every mode) are in
// the security suite, tests/security/security_test.cpp.
//
// Traffic goes only to loopback and to this test's own containers and listeners: a listener the
// test runs on the host (on the workers' bridge address), and other workers.
// Other destinations (link-local, metadata, the internet) are checked in the installed rules only.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "host_listener.hpp"
#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

const char* const kUserA = "a1a1a1a1-1111-4111-8111-111111111111";
const char* const kUserB = "b2b2b2b2-2222-4222-8222-222222222222";

// Standard output of a shell command, whatever its exit status.
std::string shell(const std::string& command) { return run_command(command).output; }

// Python run in the kernel: helpers the checks below use.
const char* const kProbeHelpers = R"PY(
import json, os, socket, ctypes, errno
def _probe(host, port, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
def _my_ip(gateway):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # no packet is sent
    s.connect((gateway, 9))
    ip = s.getsockname()[0]
    s.close()
    return ip
)PY";

class NetworkModeFixture {
public:
    explicit NetworkModeFixture(const std::string& name, const std::string& backend_toml, int min_idle = 2) {
        TestGatewayOptions options;
        options.min_idle = min_idle;
        options.max_total = 4;
        options.timeout_s = 20;
        options.backend_toml = backend_toml;
        gateway_ = std::make_unique<TestGateway>(name, options);
    }

    const TestGateway& gateway() const { return *gateway_; }

    // result_text of running code for user.
    std::string text(const std::string& user, const std::string& code) const {
        auto r = execute_as(gateway_->url(""), user, code, 60);
        EXPECT_EQ(r.status, 200) << r.body;
        if (r.status != 200) return {};
        auto j = body_of(r);
        return j.is_object() && j["result_text"].is_string() ? j["result_text"].get<std::string>() : "";
    }

    // Stops the gateway and checks that nothing of this instance is left: containers, run dir,
    // networks, and host firewall rules naming the subnet.
    void stop_and_check_cleanup(const std::string& subnet_prefix = "") {
        const std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0) << "containers of " << instance << " left behind";
        const std::string networks =
            shell("docker network ls -q --filter label=code-interpreter.instance=" + instance + " 2>&1");
        EXPECT_EQ(networks, "") << "networks of " << instance << " left behind";
        if (!subnet_prefix.empty()) {
            const std::string rules = shell("iptables-save 2>/dev/null | grep -F '" + subnet_prefix + "' || true");
            EXPECT_EQ(rules, "") << "host firewall rules for " << subnet_prefix << " left behind";
        }
        std::error_code ec;
        auto dir = run_dir_of(instance);
        EXPECT_TRUE(!std::filesystem::exists(dir) || std::filesystem::is_empty(dir)) << dir << " not cleaned";
        std::filesystem::remove(dir, ec);
    }

private:
    std::unique_ptr<TestGateway> gateway_;
};

// A /24 per use (offset 0, 50, 100, 150) and test process, next to the backend's default
// 10.213.0.0/24, so that concurrent runs rarely collide.
std::string test_subnet(int offset) {
    return "10.213." + std::to_string(offset + 1 + static_cast<int>(::getpid() % 49)) + ".0/24";
}
std::string subnet_prefix(const std::string& subnet) { return subnet.substr(0, subnet.rfind('.') + 1); }
std::string gateway_ip(const std::string& subnet) { return subnet_prefix(subnet) + "1"; }

struct WorkerContainer {
    std::string id;
    int pid = 0;
    std::string ip;
};

// The running containers of an instance with their pids and addresses.
std::vector<WorkerContainer> worker_containers(const std::string& instance) {
    std::vector<WorkerContainer> out;
    for (const auto& id : lines_of(shell("docker ps -q --filter label=code-interpreter.instance=" + instance))) {
        std::istringstream in(shell("docker inspect -f '{{.State.Pid}} {{range .NetworkSettings.Networks}}"
                                    "{{.IPAddress}} {{end}}' " + id));
        WorkerContainer c{id, 0, ""};
        in >> c.pid >> c.ip;
        out.push_back(c);
    }
    return out;
}

// --- network = "none" -----------------------------------------------------------------------------

class NoneModeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { fixture_ = std::make_unique<NetworkModeFixture>("netnone", "", 1); }
    static void TearDownTestSuite() {
        fixture_->stop_and_check_cleanup();
        fixture_.reset();
    }
    static inline std::unique_ptr<NetworkModeFixture> fixture_;
};

TEST_F(NoneModeTest, NothingInTheImageIsSetuidOrSetgid) {
    EXPECT_EQ(fixture_->text(kUserA, "import subprocess\n"
                                     "print(subprocess.run(['find', '/', '-xdev', '-perm', '/6000', '-type', 'f'],\n"
                                     "      capture_output=True, text=True).stdout, end='')\n"
                                     "print('done')\n"),
              "done\n");
}

// The container's SecurityOpt: no-new-privileges and the repository's seccomp profile.
nlohmann::json expected_security_options() {
    std::ifstream in(CI_SOURCE_DIR "/plugins/docker-backend/seccomp.json");
    const std::string profile((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return nlohmann::json::array({"no-new-privileges:true", "seccomp=" + profile});
}

TEST_F(NoneModeTest, ContainerHasOurSeccompProfileAndMinimalCapabilities) {
    fixture_->text(kUserA, "1");  // a worker is up, whichever cases ran before
    const auto containers = worker_containers(fixture_->gateway().instance());
    ASSERT_FALSE(containers.empty());
    const std::string out = shell("docker inspect -f '{{json .HostConfig.CapAdd}} {{.HostConfig.NetworkMode}}' " +
                                  containers.front().id);
    EXPECT_EQ(out, "[\"SETUID\",\"SETGID\",\"SETPCAP\"] none\n");
    EXPECT_EQ(nlohmann::json::parse(shell("docker inspect -f '{{json .HostConfig.SecurityOpt}}' " + containers.front().id)),
              expected_security_options());
}

// The worker is made with Docker's networking disabled (no libnetwork set-up at start), yet user
// code keeps a working loopback of its own and no other interface.
TEST_F(NoneModeTest, UserCodeHasItsOwnLoopbackAndNoOtherInterface) {
    EXPECT_EQ(fixture_->text(kUserA, "import os, socket\n"
                                     "server = socket.create_server(('127.0.0.1', 0))\n"
                                     "client = socket.create_connection(server.getsockname())\n"
                                     "peer, _ = server.accept()\n"
                                     "client.sendall(b'ping')\n"
                                     "print(peer.recv(4).decode(), sorted(os.listdir('/sys/class/net')))\n"),
              "ping ['lo']\n");
    const auto containers = worker_containers(fixture_->gateway().instance());
    ASSERT_FALSE(containers.empty());
    EXPECT_EQ(shell("docker inspect -f '{{.Config.NetworkDisabled}}' " + containers.front().id), "true\n");
}

// --- network = "internal" -------------------------------------------------------------------------

class InternalModeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        subnet_ = test_subnet(0);
        fixture_ = std::make_unique<NetworkModeFixture>("netint", "network = \"internal\"\nsubnet = \"" + subnet_ + "\"\n");
    }
    static void TearDownTestSuite() {
        fixture_->stop_and_check_cleanup(subnet_prefix(subnet_));
        fixture_.reset();
    }
    static std::string my_ip(const std::string& user) {
        std::string out = fixture_->text(user, std::string(kProbeHelpers) + "print(_my_ip('" + gateway_ip(subnet_) + "'))");
        while (!out.empty() && out.back() == '\n') out.pop_back();
        return out;
    }
    static inline std::unique_ptr<NetworkModeFixture> fixture_;
    static inline std::string subnet_;
};

TEST_F(InternalModeTest, ExecutesOverTcpOnTheInternalNetwork) {
    EXPECT_EQ(fixture_->text(kUserA, "x = 20\nprint(x + 1)"), "21\n");
    EXPECT_EQ(fixture_->text(kUserA, "print(x * 2)"), "40\n");
    const std::string ip = my_ip(kUserA);
    EXPECT_EQ(ip.rfind(subnet_prefix(subnet_), 0), 0u) << ip;
    const std::string name = "ci-" + fixture_->gateway().instance();
    EXPECT_EQ(shell("docker network inspect -f '{{.Internal}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} "
                    "{{index .Labels \"code-interpreter.managed\"}}' " + name),
              "true " + subnet_ + " " + gateway_ip(subnet_) + " true\n");
    // The agent listens on TCP only; no ipc socket in the run dir.
    const std::string interfaces = fixture_->text(
        kUserA, "with open('/proc/net/dev') as f:\n"
                "    print(','.join(sorted(l.split(':')[0].strip() for l in f.readlines()[2:])))\n"
                "with open('/proc/net/if_inet6') as f:\n"
                "    print(len(f.read()))\n");
    EXPECT_EQ(interfaces, "eth0,lo\n0\n");  // no IPv6 address at all, not even link-local
}

TEST_F(InternalModeTest, FirewallRulesAreInstalledInTheWorker) {
    fixture_->text(kUserA, "1");
    const auto containers = worker_containers(fixture_->gateway().instance());
    ASSERT_FALSE(containers.empty());
    for (const auto& c : containers) {
        ASSERT_GT(c.pid, 0);
        const std::string gw = gateway_ip(subnet_);
        const std::string v4 = shell("nsenter -t " + std::to_string(c.pid) + " -n iptables-save -t filter 2>&1");
        std::vector<std::string> rules;
        for (const auto& line : lines_of(v4))
            if (line[0] != '#') rules.push_back(line);
        EXPECT_EQ(rules, (std::vector<std::string>{
                             "*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT DROP [0:0]",
                             ":CI-REFUSE - [0:0]", "-A INPUT -i lo -j ACCEPT",
                             "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                             "-A INPUT -s " + gw + "/32 -p tcp -m tcp --dport 5555 -m conntrack --ctstate NEW -j ACCEPT",
                             "-A OUTPUT -d 127.0.0.11/32 -j CI-REFUSE",
                             "-A OUTPUT -o lo -p tcp -m tcp --dport 5555 -j CI-REFUSE",
                             "-A OUTPUT -o lo -j ACCEPT",
                             "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                             "-A OUTPUT -m conntrack --ctstate NEW -j CI-REFUSE",
                             "-A CI-REFUSE -p tcp -j REJECT --reject-with tcp-reset",
                             "-A CI-REFUSE -j REJECT --reject-with icmp-admin-prohibited",
                             "COMMIT"}))
            << v4;
        const std::string v6 = shell("nsenter -t " + std::to_string(c.pid) + " -n ip6tables-save -t filter 2>&1");
        EXPECT_NE(v6.find(":INPUT DROP"), std::string::npos) << v6;
        EXPECT_NE(v6.find(":OUTPUT DROP"), std::string::npos) << v6;
    }
}

TEST_F(InternalModeTest, WorkerCannotReachTheGatewayHost) {
    const std::string gw = gateway_ip(subnet_);
    HostListener listener(gw);
    // The listener itself is reachable (from the host), so a refusal below is the firewall's doing.
    {
        const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(listener.port()));
        ::inet_pton(AF_INET, gw.c_str(), &addr.sin_addr);
        EXPECT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        ::close(s);
    }
    ASSERT_EQ(listener.wait_for_accepted(1, std::chrono::seconds(1)), 1);
    const std::string out = fixture_->text(kUserA, std::string(kProbeHelpers) + "print(_probe('" + gw + "', " +
                                                       std::to_string(listener.port()) + "))\n");
    EXPECT_EQ(out, "ECONNREFUSED\n");  // rejected in the worker's OUTPUT chain: at once
    EXPECT_EQ(listener.wait_for_accepted(2, std::chrono::milliseconds(200)), 1);
}

TEST_F(InternalModeTest, WorkersCannotReachEachOtherNorTheirOwnAgent) {
    const std::string ip_a = my_ip(kUserA);
    const std::string ip_b = my_ip(kUserB);
    ASSERT_NE(ip_a, ip_b);
    // A listens on a port of its own; B tries that and A's agent port; A tries its own agent port.
    EXPECT_EQ(fixture_->text(kUserA, "import socket, threading\n"
                                     "_srv = socket.socket()\n"
                                     "_srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                     "_srv.bind(('0.0.0.0', 8000))\n"
                                     "_srv.listen(4)\n"
                                     "_hits = []\n"
                                     "def _serve():\n"
                                     "    while True:\n"
                                     "        c, peer = _srv.accept()\n"
                                     "        _hits.append(peer)\n"
                                     "        c.close()\n"
                                     "threading.Thread(target=_serve, daemon=True).start()\n"
                                     "print('listening')\n"),
              "listening\n");
    const std::string from_b = fixture_->text(
        kUserB, std::string(kProbeHelpers) + "print(_probe('" + ip_a + "', 8000))\nprint(_probe('" + ip_a + "', 5555))\n");
    EXPECT_EQ(from_b, "ECONNREFUSED\nECONNREFUSED\n");
    const std::string from_a = fixture_->text(
        kUserA, std::string(kProbeHelpers) +
                    "print(_probe('127.0.0.1', 8000))\n"    // its own services on loopback: fine
                    "print(_probe('127.0.0.1', 5555))\n"    // its agent over loopback: no
                    "print(_probe('" + ip_a + "', 5555))\n"  // nor through its own address
                    "import time\n"
                    "time.sleep(0.3)\n"
                    "print(len(_hits))\n");
    EXPECT_EQ(from_a, "connected\nECONNREFUSED\nECONNREFUSED\n1\n");
    // Docker's embedded DNS (which would know the other workers' names and forward other queries
    // upstream) is out of reach too.
    const auto containers = worker_containers(fixture_->gateway().instance());
    ASSERT_GE(containers.size(), 2u);
    std::string other_name = shell("docker inspect -f '{{.Name}}' " + containers.front().id);
    other_name = other_name.substr(1, other_name.find('\n') - 1);  // "/name\n"
    const std::string dns = fixture_->text(kUserB, "import socket\n"
                                                   "try:\n"
                                                   "    socket.gethostbyname('" + other_name + "')\n"
                                                   "    print('resolved')\n"
                                                   "except socket.gaierror as e:\n"
                                                   "    print(e.errno == socket.EAI_AGAIN)\n");
    EXPECT_EQ(dns, "True\n");  // no answer at all (not "no such name")
}

TEST_F(InternalModeTest, ContainerHasOurSeccompProfileAndMinimalCapabilities) {
    fixture_->text(kUserA, "1");  // a worker is up, whichever cases ran before
    const auto containers = worker_containers(fixture_->gateway().instance());
    ASSERT_FALSE(containers.empty());
    EXPECT_EQ(shell("docker inspect -f '{{json .HostConfig.CapAdd}}' " + containers.front().id),
              "[\"SETUID\",\"SETGID\",\"SETPCAP\",\"NET_ADMIN\"]\n");
    EXPECT_EQ(nlohmann::json::parse(shell("docker inspect -f '{{json .HostConfig.SecurityOpt}}' " + containers.front().id)),
              expected_security_options());
}

// --- enable_internet = true -----------------------------------------------------------------------

class InternetModeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        subnet_ = test_subnet(50);
        fixture_ = std::make_unique<NetworkModeFixture>("netpub", "enable_internet = true\nsubnet = \"" + subnet_ + "\"\n");
    }
    static void TearDownTestSuite() {
        fixture_->stop_and_check_cleanup(subnet_prefix(subnet_));
        fixture_.reset();
    }
    static inline std::unique_ptr<NetworkModeFixture> fixture_;
    static inline std::string subnet_;
};

TEST_F(InternetModeTest, RulesAllowOnlyPublicDestinations) {
    EXPECT_EQ(fixture_->text(kUserA, "print(6 * 7)"), "42\n");
    const std::string name = "ci-" + fixture_->gateway().instance() + "-net";
    EXPECT_EQ(shell("docker network inspect -f '{{.Internal}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' " + name),
              "false " + subnet_ + "\n");
    const auto containers = worker_containers(fixture_->gateway().instance());
    ASSERT_FALSE(containers.empty());
    const std::string gw = gateway_ip(subnet_);
    const std::string v4 = shell("nsenter -t " + std::to_string(containers.front().pid) + " -n iptables-save -t filter");
    std::vector<std::string> output;
    for (const auto& line : lines_of(v4))
        if (line.rfind("-A OUTPUT", 0) == 0) output.push_back(line);
    EXPECT_EQ(output, (std::vector<std::string>{
                          "-A OUTPUT -o lo -p tcp -m tcp --dport 5555 -j CI-REFUSE",
                          "-A OUTPUT -o lo -j ACCEPT",
                          "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                          "-A OUTPUT -d " + gw + "/32 -j CI-REFUSE",
                          "-A OUTPUT -d 0.0.0.0/8 -j CI-REFUSE",
                          "-A OUTPUT -d 10.0.0.0/8 -j CI-REFUSE",
                          "-A OUTPUT -d 100.64.0.0/10 -j CI-REFUSE",
                          "-A OUTPUT -d 127.0.0.0/8 -j CI-REFUSE",
                          "-A OUTPUT -d 169.254.0.0/16 -j CI-REFUSE",
                          "-A OUTPUT -d 172.16.0.0/12 -j CI-REFUSE",
                          "-A OUTPUT -d 192.0.0.0/24 -j CI-REFUSE",
                          "-A OUTPUT -d 192.0.2.0/24 -j CI-REFUSE",
                          "-A OUTPUT -d 192.168.0.0/16 -j CI-REFUSE",
                          "-A OUTPUT -d 198.18.0.0/15 -j CI-REFUSE",
                          "-A OUTPUT -d 198.51.100.0/24 -j CI-REFUSE",
                          "-A OUTPUT -d 203.0.113.0/24 -j CI-REFUSE",
                          "-A OUTPUT -d 224.0.0.0/4 -j CI-REFUSE",
                          "-A OUTPUT -d 240.0.0.0/4 -j CI-REFUSE",
                          "-A OUTPUT -m conntrack --ctstate NEW -j ACCEPT"}))
        << v4;
    EXPECT_NE(v4.find(":OUTPUT DROP"), std::string::npos) << v4;
    EXPECT_NE(v4.find("-A INPUT -s " + gw + "/32 -p tcp -m tcp --dport 5555 -m conntrack --ctstate NEW -j ACCEPT"),
              std::string::npos)
        << v4;
}

TEST_F(InternetModeTest, GatewayHostAndOtherWorkersStayRefused) {
    HostListener listener(gateway_ip(subnet_));
    const std::string ip_b = fixture_->text(kUserB, std::string(kProbeHelpers) + "print(_my_ip('" +
                                                        gateway_ip(subnet_) + "'), end='')");
    ASSERT_EQ(ip_b.rfind(subnet_prefix(subnet_), 0), 0u) << ip_b;
    const std::string out = fixture_->text(
        kUserA, std::string(kProbeHelpers) + "print(_probe('" + gateway_ip(subnet_) + "', " +
                    std::to_string(listener.port()) + "))\nprint(_probe('" + ip_b + "', 5555))\n");
    EXPECT_EQ(out, "ECONNREFUSED\nECONNREFUSED\n");
    EXPECT_EQ(listener.accepted(), 0);
}

// --- start-up with networks left by an earlier run ---------------------------------------------

// A field of `docker network inspect`, without the line break; "" when there is no such network.
std::string network_field(const std::string& name, const std::string& format) {
    std::string out = shell("docker network inspect -f '" + format + "' " + name + " 2>/dev/null");
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

void make_network(const std::string& name, const std::string& instance, const std::string& subnet, bool internal,
                  bool labelled = true) {
    const std::string labels = labelled ? " --label code-interpreter.managed=true --label code-interpreter.instance=" +
                                              instance
                                        : std::string();
    shell("docker network create" + std::string(internal ? " --internal" : "") + " --subnet " + subnet +
          " --gateway " + gateway_ip(subnet) + labels + " " + name + " >/dev/null 2>&1");
    ASSERT_NE(network_field(name, "{{.Id}}"), "") << "could not create " << name;
}

TEST(NetworkLeftovers, StartUpReplacesMismatchedNetworksReusesMatchingOnesAndRefusesForeignOnes) {
    const std::string instance = "t" + std::to_string(::getpid()) + "-netleft";
    const std::string name = "ci-" + instance;
    const std::string wanted = test_subnet(100);
    const std::string toml = "network = \"internal\"\nsubnet = \"" + wanted + "\"\n";
    const std::string leftover = "ci-worker-" + instance + "-0123456789ab";
    auto remove_all = [&] {
        shell("docker rm -f " + leftover + " >/dev/null 2>&1");
        shell("docker network rm " + name + " " + name + "-net >/dev/null 2>&1");
    };
    remove_all();

    // Another subnet, with a leftover worker still attached, and the network of another mode:
    // the worker goes, the networks are replaced / removed at start-up.
    make_network(name, instance, test_subnet(150), true);
    make_network(name + "-net", instance, "10.214." + std::to_string(1 + ::getpid() % 200) + ".0/24", false);
    const char* image = std::getenv("CI_TEST_WORKER_IMAGE");
    shell("docker run -d --name " + leftover + " --network " + name +
          " --label code-interpreter.managed=true --label code-interpreter.instance=" + instance +
          " --label code-interpreter.worker-id=0123456789ab --cap-drop ALL --entrypoint /bin/sleep " +
          (image && *image ? std::string(image) : std::string("code-interpreter-worker:latest")) +
          " 600 >/dev/null 2>&1");
    ASSERT_EQ(count_containers(instance), 1);
    {
        NetworkModeFixture fixture("netleft", toml, 0);
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(network_field(name, "{{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Internal}}"), wanted + " true");
        EXPECT_EQ(network_field(name + "-net", "{{.Id}}"), "");
        fixture.stop_and_check_cleanup(subnet_prefix(wanted));
    }

    // A matching network is reused as it is.
    make_network(name, instance, wanted, true);
    const std::string id = network_field(name, "{{.Id}}");
    {
        NetworkModeFixture fixture("netleft", toml, 0);
        EXPECT_EQ(network_field(name, "{{.Id}}"), id);
        EXPECT_EQ(fixture.text(kUserA, "print('reused')"), "reused\n");
        fixture.stop_and_check_cleanup(subnet_prefix(wanted));
    }

    // A network of that name that is not ours is left alone, and the gateway does not start.
    make_network(name, instance, wanted, true, /*labelled=*/false);
    try {
        NetworkModeFixture fixture("netleft", toml, 0);
        ADD_FAILURE() << "the gateway started on a foreign network";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("is not this instance's"), std::string::npos) << e.what();
    }
    EXPECT_NE(network_field(name, "{{.Id}}"), "");
    remove_all();
    std::error_code ec;
    std::filesystem::remove(run_dir_of(instance), ec);
}

}  // namespace
}  // namespace ci::test
