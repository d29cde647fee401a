// The security suite: each case runs an attack through the public API and asserts that it fails
// with a clear outcome. Runs once per network mode.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

// A TCP listener on every host address, so a worker that could route anywhere on this machine
// (loopback, the Docker bridges) would reach it. It counts the connections it accepts.
class HostListener {
public:
    HostListener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0)
            throw std::runtime_error("cannot listen");
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] {
            while (!stop_) {
                int c = ::accept(fd_, nullptr, nullptr);
                if (c >= 0) {
                    if (!stop_) ++accepted_;
                    ::close(c);
                }
            }
        });
    }
    ~HostListener() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    int port() const { return port_; }
    int accepted() const { return accepted_; }

private:
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

struct Mode {
    const char* name;
    const char* backend_toml;
    const char* host_on_bridge;  // the host's address on the workers' bridge (a listener target)
};

void PrintTo(const Mode& mode, std::ostream* os) { *os << mode.name; }

class SecurityTest : public ::testing::TestWithParam<Mode> {
protected:
    void SetUp() override {
        if (!gateway_ || mode_ != GetParam().name) {
            stop_gateway();
            mode_ = GetParam().name;
            TestGatewayOptions options{1, 8, 20, "[worker]\nram_mb = 256\ndisk_mb = 64\npids_limit = 64\n"};
            options.backend_toml = GetParam().backend_toml;
            gateway_ = std::make_unique<TestGateway>(std::string("sec-") + mode_, options);
        }
    }

    static void TearDownTestSuite() { stop_gateway(); }

    // Stops the gateway of the current mode; it must leave nothing behind.
    static void stop_gateway() {
        if (!gateway_) return;
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(count_networks(instance), 0);
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    static HttpResponse run(const std::string& user, const std::string& code) {
        return http_request("POST", gateway_->url("/execute"), json{{"user_uuid", user}, {"code", code}}.dump(),
                            kUserToken, 60);
    }

    // Runs code that prints its verdict; returns result_text.
    static std::string text(const std::string& user, const std::string& code) {
        auto r = run(user, code);
        EXPECT_EQ(r.status, 200) << r.body;
        auto j = json::parse(r.body);
        return j["result_text"].is_string() ? j["result_text"].get<std::string>() : "";
    }

    static inline std::unique_ptr<TestGateway> gateway_;
    static inline std::string mode_;
};

const char* const kUser = "a0000000-0000-4000-8000-00000000000a";
const char* const kOther = "b0000000-0000-4000-8000-00000000000b";

TEST_P(SecurityTest, UserIsNotRootAndCannotBecomeRoot) {
    std::string out = text(kUser, R"(
import os
print('uid', os.getuid(), os.geteuid(), os.getgid())
for attempt in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.setgroups([0])):
    try:
        attempt(); print('BECAME ROOT')
    except PermissionError:
        print('refused')
)");
    EXPECT_EQ(out, "uid 1000 1000 1000\nrefused\nrefused\nrefused\n");
}

TEST_P(SecurityTest, CapabilitySetsAreEmptyAndNoNewPrivsIsSet) {
    std::string out = text(kUser, R"(
for line in open('/proc/self/status'):
    if line.startswith(('Cap', 'NoNewPrivs', 'Seccomp:')):
        print(line.strip())
)");
    EXPECT_NE(out.find("CapInh:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("CapPrm:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("CapBnd:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("CapAmb:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
    EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;  // Docker's default profile
}

TEST_P(SecurityTest, WritesOutsideTheWorkspaceFail) {
    std::string out = text(kUser, R"(
import os
print('cwd', os.getcwd())
for path in ('/etc/evil', '/usr/bin/evil', '/evil', '/run/ci/evil', '/usr/lib/python3/dist-packages/evil.py'):
    try:
        open(path, 'w').write('x'); print('WROTE', path)
    except OSError as e:
        print('refused', type(e).__name__)
open('mine.txt', 'w').write('ok')
print('workspace', open(os.path.expanduser('~/mine.txt')).read())
)");
    EXPECT_EQ(out, "cwd /home/sandbox\nrefused OSError\nrefused OSError\nrefused OSError\nrefused PermissionError\n"
                   "refused OSError\nworkspace ok\n")
        << out;
}

TEST_P(SecurityTest, FillingTheDiskStopsAtTheLimit) {
    std::string out = text(kUser, R"(
import os, errno
written = 0
try:
    with open('fill.bin', 'wb') as f:
        chunk = b'x' * (1 << 20)
        while written < (512 << 20):
            f.write(chunk); f.flush(); written += len(chunk)
    print('NO LIMIT', written)
except OSError as e:
    print('stopped', errno.errorcode[e.errno], written >> 20 <= 64)
os.remove('fill.bin')
)");
    EXPECT_EQ(out, "stopped ENOSPC True\n") << out;
}

TEST_P(SecurityTest, MemoryBombEndsOnlyThatWorker) {
    const char* victim = "c0000000-0000-4000-8000-00000000000c";
    EXPECT_EQ(text(kOther, "survivor = 'alive'\nprint(survivor)"), "alive\n");
    auto started = std::chrono::steady_clock::now();
    auto r = run(victim, "blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))");
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.status, 503) << r.body;
    auto reason = json::parse(r.body)["reason"].get<std::string>();
    EXPECT_TRUE(reason == "oom_killed" || reason == "kernel_died") << r.body;
    EXPECT_LT(took, std::chrono::seconds(20));
    EXPECT_EQ(text(kOther, "print(survivor)"), "alive\n");  // the other session is untouched
    EXPECT_EQ(text(victim, "print('fresh' if 'blocks' not in globals() else 'stale')"), "fresh\n");
    EXPECT_EQ(http_request("GET", gateway_->url("/health")).status, 200);
}

TEST_P(SecurityTest, ForkBombStopsAtThePidsLimit) {
    std::string out = text(kUser, R"(
import os, time
children = []
error = None
try:
    for _ in range(10000):
        pid = os.fork()
        if pid == 0:
            time.sleep(3); os._exit(0)
        children.append(pid)
except OSError as e:
    error = type(e).__name__
for pid in children:
    os.waitpid(pid, 0)
print('stopped' if error else 'NOT STOPPED', error, len(children) < 64)
)");
    EXPECT_EQ(out, "stopped BlockingIOError True\n") << out;
    EXPECT_EQ(text(kUser, "print('responsive')"), "responsive\n");
}

TEST_P(SecurityTest, AgentCannotBeKilledTracedOrRobbedOfItsKey) {
    std::string out = text(kUser, R"(
import os, ctypes, signal
agent = None
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        status = open(f'/proc/{pid}/status').read()
    except OSError:
        continue
    if '\nUid:\t990\t' in status:
        agent = int(pid)
print('agent found', agent is not None)
try:
    os.kill(agent, signal.SIGKILL); print('KILLED')
except PermissionError:
    print('kill refused')
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
print('ptrace refused', libc.ptrace(PTRACE_ATTACH, agent, None, None) == -1)
for path in ('/run/ci/agent.key', f'/proc/{agent}/environ', f'/proc/{agent}/mem'):
    try:
        open(path, 'rb').read(1); print('READ', path)
    except OSError:
        print('read refused')
try:
    os.listdir(f'/proc/{agent}/fd'); print('LISTED FDS')
except OSError:
    print('fds refused')
)");
    EXPECT_EQ(out, "agent found True\nkill refused\nptrace refused True\nread refused\nread refused\nread refused\n"
                   "fds refused\n")
        << out;
}

TEST_P(SecurityTest, DockerSocketIsAbsent) {
    EXPECT_EQ(text(kUser, "import os\nprint([p for p in ('/var/run/docker.sock', '/run/docker.sock') if os.path.exists(p)])"),
              "[]\n");
}

TEST_P(SecurityTest, GatewayAndHostListenersCannotBeReached) {
    HostListener listener;
    std::string gateway_port = gateway_->url("").substr(gateway_->url("").rfind(':') + 1);
    std::string code = "import socket\n"
                       "targets = [('127.0.0.1', " + std::to_string(listener.port()) + "), ('127.0.0.1', " +
                       gateway_port + "), ('172.17.0.1', " + std::to_string(listener.port()) + "), ('" +
                       GetParam().host_on_bridge + "', " + std::to_string(listener.port()) + "), ('" +
                       GetParam().host_on_bridge + "', " + gateway_port + ")]\n" +
                       R"(
for host, port in targets:
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); print('CONNECTED', host, port)
    except OSError:
        print('unreachable')
    finally:
        s.close()
)";
    EXPECT_EQ(text(kUser, code), "unreachable\nunreachable\nunreachable\nunreachable\nunreachable\n");
    EXPECT_EQ(listener.accepted(), 0);
}

TEST_P(SecurityTest, NoneModeHasNoRouteButLoopback) {
    if (std::string(GetParam().name) != "none") GTEST_SKIP() << "networked modes have a bridge interface";
    std::string out = text(kUser, R"(
interfaces = [line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:]]
routes = open('/proc/net/route').readlines()[1:]
print(interfaces, len(routes))
)");
    EXPECT_EQ(out, "['lo'] 0\n");
}

TEST_P(SecurityTest, MountFails) {
    std::string out = text(kUser, R"(
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)
print('mount refused', rc == -1, os.strerror(ctypes.get_errno()))
print('unshare refused', libc.unshare(0x00020000) == -1)  # CLONE_NEWNS
)");
    EXPECT_EQ(out, "mount refused True Operation not permitted\nunshare refused True\n") << out;
}

TEST_P(SecurityTest, AnotherUsersFilesAndVariablesAreInvisible) {
    text(kUser, "open('private.txt', 'w').write('mine')\nprivate_variable = 1");
    std::string out = text(kOther, R"(
import os
print(os.listdir('.'))
print('private_variable' in globals())
)");
    EXPECT_EQ(out.find("private.txt"), std::string::npos) << out;
    EXPECT_NE(out.find("False"), std::string::npos) << out;
}

TEST_P(SecurityTest, HugeOutputIsCutWithAMarker) {
    auto r = run(kUser, "print('y' * (8 << 20))");
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
    std::string out = json::parse(r.body)["result_text"].get<std::string>();
    EXPECT_LE(out.size(), (4u << 20) + 200);  // execution.max_output_bytes, the default
    EXPECT_NE(out.find("[output truncated"), std::string::npos);
    EXPECT_EQ(text(kUser, "print('fine')"), "fine\n");
}

// One instantiation per mode: each is its own suite, so one gateway serves all of a mode's cases.
std::string mode_name(const ::testing::TestParamInfo<Mode>& info) { return info.param.name; }
INSTANTIATE_TEST_SUITE_P(NetworkNone, SecurityTest, ::testing::Values(Mode{"none", "", "10.213.20.1"}), mode_name);
INSTANTIATE_TEST_SUITE_P(NetworkInternal, SecurityTest,
                         ::testing::Values(Mode{"internal", "network = \"internal\"\nsubnet = \"10.213.20.0/24\"\n",
                                                "10.213.20.1"}),
                         mode_name);

}  // namespace
}  // namespace ci::test
