// The security suite: each case runs an attack through the public API and asserts that it fails
// with a clear outcome. Runs once per network mode.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "host_listener.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

struct Mode {
    const char* name;
    const char* backend_toml;
    const char* host_on_bridge;  // the host's address on the workers' bridge (a listener target)
    // How user code's connect to the host's addresses off loopback (docker0's 172.17.0.1,
    // host_on_bridge) fails: no route (ENETUNREACH), or reset by the worker's firewall (ECONNREFUSED).
    const char* host_refusal;
};

void PrintTo(const Mode& mode, std::ostream* os) { *os << mode.name; }

class SecurityTest : public ::testing::TestWithParam<Mode> {
protected:
    void SetUp() override {
        if (!gateway_ || mode_ != GetParam().name) {
            stop_gateway();
            mode_ = GetParam().name;
            TestGatewayOptions options{.min_idle = 1, .max_total = 8, .timeout_s = 20,
                                       .worker_toml = "ram_mb = 256\ndisk_mb = 64\npids_limit = 64\n"};
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
        return execute_as(gateway_->url(""), user, code, 60);
    }

    // Runs code that prints its verdict; returns result_text.
    static std::string text(const std::string& user, const std::string& code) {
        auto r = run(user, code);
        EXPECT_EQ(r.status, 200) << r.body;
        auto j = body_of(r);
        return j.is_object() && j["result_text"].is_string() ? j["result_text"].get<std::string>() : "";
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
    EXPECT_EQ(out, "uid 2100001000 2100001000 2100001000\nrefused\nrefused\nrefused\n");
}

TEST_P(SecurityTest, CapabilitySetsAreEmptyAndNoNewPrivsIsSet) {
    std::string out = text(kUser, R"(
for line in open('/proc/self/status'):
    if line.startswith(('Cap', 'NoNewPrivs', 'Seccomp:')):
        print(line.strip())
)");
    EXPECT_EQ(out, "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
                   "CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
                   "Seccomp:\t2\n")  // Seccomp 2: a filter is on (ours: tests/security/hardening_test.cpp)
        << out;
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
    EXPECT_EQ(out, "cwd /sandbox\nrefused OSError\nrefused OSError\nrefused OSError\nrefused PermissionError\n"
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
    auto reason = reason_of(r);
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
import ctypes, errno, os, signal
def outcome(attempt):
    try:
        attempt()
        return 'ALLOWED'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def read(path):
    with open(path, 'rb') as f:
        f.read(1)
agent = None
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        status = open(f'/proc/{pid}/status').read()
    except OSError:
        continue
    if '\nUid:\t2100000990\t' in status:
        agent = int(pid)
print('agent found', agent is not None)
print('signal 0', outcome(lambda: os.kill(agent, 0)))
print('SIGKILL', outcome(lambda: os.kill(agent, signal.SIGKILL)))
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_ATTACH = 16
rc = libc.ptrace(PTRACE_ATTACH, agent, None, None)
print('ptrace', 'ALLOWED' if rc == 0 else errno.errorcode.get(ctypes.get_errno(), '?'))
print('read key', outcome(lambda: read('/run/ci/agent.key')))
print('read environ', outcome(lambda: read(f'/proc/{agent}/environ')))
print('read mem', outcome(lambda: read(f'/proc/{agent}/mem')))
print('list fd', outcome(lambda: os.listdir(f'/proc/{agent}/fd')))
print('readlink cwd', outcome(lambda: os.readlink(f'/proc/{agent}/cwd')))
print('list /run/ci', outcome(lambda: os.listdir('/run/ci')))
)");
    EXPECT_EQ(out, "agent found True\nsignal 0 EPERM\nSIGKILL EPERM\nptrace EPERM\nread key EACCES\n"
                   "read environ EACCES\nread mem EACCES\nlist fd EACCES\nreadlink cwd EACCES\n"
                   "list /run/ci EACCES\n")
        << out;
}

TEST_P(SecurityTest, DockerSocketIsAbsent) {
    EXPECT_EQ(text(kUser, "import os\nprint([p for p in ('/var/run/docker.sock', '/run/docker.sock') if os.path.exists(p)])"),
              "[]\n");
}

TEST_P(SecurityTest, GatewayAndHostListenersCannotBeReached) {
    HostListener listener;  // on every host address
    const std::string listener_port = std::to_string(listener.port());
    const std::string gateway_port = gateway_->url("").substr(gateway_->url("").rfind(':') + 1);
    const std::string bridge = GetParam().host_on_bridge;
    std::string code = "import errno, socket\n"
                       "targets = [('loopback listener', '127.0.0.1', " + listener_port + "),\n"
                       "           ('loopback gateway', '127.0.0.1', " + gateway_port + "),\n"
                       "           ('docker0 listener', '172.17.0.1', " + listener_port + "),\n"
                       "           ('bridge listener', '" + bridge + "', " + listener_port + "),\n"
                       "           ('bridge gateway', '" + bridge + "', " + gateway_port + ")]\n" +
                       R"(
for label, host, port in targets:
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); print(label, 'CONNECTED')
    except socket.timeout:
        print(label, 'timeout')
    except OSError as e:
        print(label, errno.errorcode.get(e.errno, str(e.errno)))
    finally:
        s.close()
)";
    // Loopback is the worker's own: nothing listens there, whatever the mode.
    const std::string refusal = GetParam().host_refusal;
    EXPECT_EQ(text(kUser, code), "loopback listener ECONNREFUSED\nloopback gateway ECONNREFUSED\ndocker0 listener " +
                                     refusal + "\nbridge listener " + refusal + "\nbridge gateway " + refusal + "\n");
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
INSTANTIATE_TEST_SUITE_P(NetworkNone, SecurityTest,
                         ::testing::Values(Mode{"none", "", "10.213.20.1", "ENETUNREACH"}), mode_name);
INSTANTIATE_TEST_SUITE_P(NetworkInternal, SecurityTest,
                         ::testing::Values(Mode{"internal", "network = \"internal\"\nsubnet = \"10.213.20.0/24\"\n",
                                                "10.213.20.1", "ECONNREFUSED"}),
                         mode_name);
INSTANTIATE_TEST_SUITE_P(NetworkInternet, SecurityTest,
                         ::testing::Values(Mode{"internet", "enable_internet = true\nsubnet = \"10.213.30.0/24\"\n",
                                                "10.213.30.1", "ECONNREFUSED"}),
                         mode_name);

}  // namespace
}  // namespace ci::test
