// The container hardening on the real stack, one case per attack: system calls our seccomp profile
// refuses, core dumps, host accounts sharing the workers' ids, the per-worker host directory, the
// block-I/O limits, the loop-disk's space accounting and tokens in process lists. Each case runs
// the attack (through the API, or from the host as the attacker would) and checks it fails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The image's users (docker/Dockerfile): ids no host account has.
constexpr uid_t kAgentId = 2100000990;
constexpr uid_t kKernelId = 2100001000;

// The limits the suite's gateway gives each worker's volume, low enough to measure in seconds.
constexpr int kDiskMbPerSecond = 4;
constexpr int kDiskIops = 100;

const char* const kUser = "d0000000-0000-4000-8000-00000000000d";

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Whether /proc/self/mountinfo has a mount on `path`.
bool mounted_at(const std::string& path) {
    for (const auto& line : lines_of(read_file("/proc/self/mountinfo"))) {
        std::istringstream fields(line);
        std::string id, parent, numbers, root, mount_point;
        fields >> id >> parent >> numbers >> root >> mount_point;
        if (mount_point == path) return true;
    }
    return false;
}

// Runs `action` in a child process that has become host user uid:gid; the errno it failed with
// (0: it succeeded). The action may only make system calls: the parent has threads.
template <class Action>
int errno_as_host_user(uid_t uid, gid_t gid, Action action) {
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(255);
        ::_exit(action() == 0 ? 0 : errno);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A host account to attack with: uid 1000 when the host has it (the kernel's old uid, the first
// user most distributions make), else its first user but root.
const passwd* host_attacker() {
    if (const passwd* user = ::getpwuid(1000)) return user;
    ::setpwent();
    const passwd* user = nullptr;
    while ((user = ::getpwent()) && user->pw_uid == 0) {
    }
    ::endpwent();
    return user;
}

class HardeningTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        TestGatewayOptions options{.min_idle = 1, .max_total = 4, .timeout_s = 60,
                                   .worker_toml = "ram_mb = 256\ndisk_mb = 64\npids_limit = 64\n"};
        options.backend_toml = "disk_read_mb_per_s = " + std::to_string(kDiskMbPerSecond) +
                               "\ndisk_write_mb_per_s = " + std::to_string(kDiskMbPerSecond) +
                               "\ndisk_read_iops = " + std::to_string(kDiskIops) +
                               "\ndisk_write_iops = " + std::to_string(kDiskIops) + "\n";
        gateway_ = std::make_unique<TestGateway>("hardening", options);
    }

    static void TearDownTestSuite() {
        if (!gateway_) return;  // its start failed: SetUpTestSuite reported why
        const std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(volume_leftovers(instance), "");
        EXPECT_FALSE(fs::exists(run_dir_of(instance)));
    }

    // Runs code as `user` and returns its result_text.
    static std::string text(const std::string& code, const std::string& user = kUser) {
        auto r = execute_as(gateway_->url(""), user, code, 90);
        EXPECT_EQ(r.status, 200) << r.body;
        return result_text(r);
    }

    // The worker id of `user`'s session: its volume holds a file the session writes.
    static std::string worker_of(const std::string& user) {
        const std::string marker = "marker-" + user;
        EXPECT_EQ(text("open('" + marker + "', 'w').close()\nprint('ok')", user), "ok\n");
        const std::string prefix = gateway_->instance() + "-";
        for (const auto& entry : fs::directory_iterator("/run/code-interpreter-disks")) {
            const std::string name = entry.path().filename().string();
            if (name.rfind(prefix, 0) == 0 && fs::exists(entry.path() / marker)) return name.substr(prefix.size());
        }
        return {};
    }

    static std::string container_of(const std::string& worker_id) {
        return "ci-worker-" + gateway_->instance() + "-" + worker_id;
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

// Each probe calls one system call with arguments it would accept and prints the errno, or "ok".
const char* const kSyscallProbe = R"(
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, number, *args):
    rc = libc.syscall(number, *args)
    print(name, 'ok' if rc >= 0 else errno.errorcode.get(ctypes.get_errno(), '?'))
)";

// io_uring (Docker's default profile allows it): a large kernel surface with a record of privilege
// escalations, whose requests run past seccomp.
TEST_F(HardeningTest, IoUringIsRefused) {
    EXPECT_EQ(text(std::string(kSyscallProbe) + R"(
params = ctypes.create_string_buffer(120)
call('io_uring_setup', 425, 4, params)
call('io_uring_enter', 426, 0, 0, 0, 0, None, 0)
call('io_uring_register', 427, 0, 0, None, 0)
)"),
              "io_uring_setup EPERM\nio_uring_enter EPERM\nio_uring_register EPERM\n");
}

// userfaultfd stalls the kernel on a page fault at will: the classic way to win kernel races.
TEST_F(HardeningTest, UserfaultfdIsRefused) {
    EXPECT_EQ(text(std::string(kSyscallProbe) + "call('userfaultfd', 323, 1)  # UFFD_USER_MODE_ONLY\n"),
              "userfaultfd EPERM\n");
}

// The kernel keyring is not namespaced: keys would be shared with the host and other workers.
TEST_F(HardeningTest, KernelKeyringIsRefused) {
    EXPECT_EQ(text(std::string(kSyscallProbe) + R"(
call('add_key', 248, b'user', b'ci', b'secret', 6, -2)  # KEY_SPEC_PROCESS_KEYRING
call('request_key', 249, b'user', b'ci', None, 0)
call('keyctl', 250, 0, -2, 0)  # KEYCTL_GET_KEYRING_ID
)"),
              "add_key EPERM\nrequest_key EPERM\nkeyctl EPERM\n");
}

TEST_F(HardeningTest, BpfAndPerfEventsAreRefused) {
    EXPECT_EQ(text(std::string(kSyscallProbe) + R"(
attr = ctypes.create_string_buffer(128)
ctypes.c_uint32.from_buffer(attr, 4).value = 128  # size
call('perf_event_open', 298, attr, 0, -1, -1, 0)
call('bpf', 321, 0, ctypes.create_string_buffer(64), 64)  # BPF_MAP_CREATE
)"),
              "perf_event_open EPERM\nbpf EPERM\n");
}

// ptrace, process_vm_*, kcmp, pidfd_getfd reach into other processes; modify_ldt sets up x86
// segments no Python code needs. Docker's default allows PTRACE_TRACEME and modify_ldt.
TEST_F(HardeningTest, PtraceAndLdtAreRefused) {
    EXPECT_EQ(text(std::string(kSyscallProbe) + R"(
call('modify_ldt', 154, 0, ctypes.create_string_buffer(16), 16)
pid = os.fork()
if pid == 0:
    os._exit(0 if libc.ptrace(0, 0, None, None) == 0 else ctypes.get_errno())  # PTRACE_TRACEME
status = os.waitpid(pid, 0)[1] >> 8
print('ptrace', 'ok' if status == 0 else errno.errorcode.get(status, '?'))
child = os.fork()
if child == 0:
    import time; time.sleep(5); os._exit(0)
local = ctypes.create_string_buffer(8)
iov = (ctypes.c_void_p * 2)(ctypes.addressof(local), 8)
call('process_vm_readv', 310, child, iov, 1, iov, 1, 0)
call('kcmp', 312, os.getpid(), child, 0, 0, 0)  # KCMP_FILE
fd = libc.syscall(434, child, 0)  # pidfd_open: allowed
call('pidfd_getfd', 438, fd, 0, 0)
os.kill(child, 9)
_ = os.waitpid(child, 0)
)"),
              "modify_ldt EPERM\nptrace EPERM\nprocess_vm_readv EPERM\nkcmp EPERM\npidfd_getfd EPERM\n");
}

// Named explicitly where AppArmor is on, so that the worker can never run under another profile.
TEST_F(HardeningTest, AppArmorConfinesTheWorkerWhereTheHostHasIt) {
    if (!fs::exists("/sys/kernel/security/apparmor"))
        GTEST_SKIP() << "AppArmor is not enabled on this host (no /sys/kernel/security/apparmor): the backend names "
                        "no profile; DockerApi's unit test AppArmor.DockerDefaultIsNamedWhereTheHostHasAppArmor covers "
                        "the request";
    EXPECT_EQ(text("print(open('/proc/self/attr/current').read().strip())"), "docker-default (enforce)\n");
}

// A crash writes no memory to disk: not the kernel's, nor any process's of the container (pid 1,
// Docker's init, has the limit from Docker itself), and no process can raise it.
TEST_F(HardeningTest, CoreDumpsAreOff) {
    EXPECT_EQ(text(R"(
import os, resource, subprocess
print('rlimit', resource.getrlimit(resource.RLIMIT_CORE))
try:
    resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20)); print('RAISED')
except ValueError:
    print('raise refused')
line = [l for l in open('/proc/1/limits') if l.startswith('Max core file size')][0]
print('pid 1', line.split()[4:6])
crash = subprocess.run(['python3', '-c', 'import os; os.abort()'], cwd='/sandbox')
print('crashed', crash.returncode, [f for f in os.listdir('/sandbox') if f.startswith('core')])
)"),
              "rlimit (0, 0)\nraise refused\npid 1 ['0', '0']\ncrashed -6 []\n");
}

// The kernels run as a uid no host account has: a host user (uid 1000 here, the kernels' old uid)
// cannot signal them.
TEST_F(HardeningTest, AHostAccountCannotSignalTheKernel) {
    EXPECT_EQ(text("import os\nprint(os.getuid())"), std::to_string(kKernelId) + "\n");
    EXPECT_EQ(::getpwuid(kKernelId), nullptr) << "the host has an account with the kernels' uid";
    EXPECT_EQ(::getgrgid(kKernelId), nullptr) << "the host has a group with the kernels' gid";
    const passwd* attacker = host_attacker();
    ASSERT_NE(attacker, nullptr) << "no host user but root";
    const uid_t uid = attacker->pw_uid;
    const gid_t gid = attacker->pw_gid;

    const auto containers = lines_of(
        command_output("docker ps -q --no-trunc --filter label=code-interpreter.instance=" + gateway_->instance()));
    ASSERT_FALSE(containers.empty());
    std::vector<pid_t> kernels;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string pid = entry.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string status = read_file("/proc/" + pid + "/status");
        if (status.find("\nUid:\t" + std::to_string(kKernelId) + "\t") == std::string::npos) continue;
        const std::string cgroup = read_file("/proc/" + pid + "/cgroup");
        for (const auto& id : containers)
            if (cgroup.find(id) != std::string::npos) kernels.push_back(std::stoi(pid));
    }
    ASSERT_FALSE(kernels.empty()) << "no process of uid " << kKernelId << " in this instance's containers";
    for (const pid_t kernel : kernels) {
        EXPECT_EQ(errno_as_host_user(uid, gid, [kernel] { return ::kill(kernel, 0); }), EPERM)
            << "host user " << attacker->pw_name << " signalled kernel process " << kernel;
        EXPECT_EQ(::kill(kernel, 0), 0) << "the process is there";
    }
}

// The agent's key sits in a directory of the agent's uid, which no host account has.
TEST_F(HardeningTest, AHostAccountCannotReadTheAgentKey) {
    const std::string worker = worker_of(kUser);
    ASSERT_FALSE(worker.empty());
    const std::string key = run_dir_of(gateway_->instance()) + "/" + worker + "/agent.key";
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_uid, kAgentId);
    EXPECT_EQ(::getpwuid(st.st_uid), nullptr) << "the host has an account with the agents' uid";
    const passwd* attacker = host_attacker();
    ASSERT_NE(attacker, nullptr);
    const char* path = key.c_str();
    EXPECT_EQ(errno_as_host_user(attacker->pw_uid, attacker->pw_gid,
                                 [path] {
                                     const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
                                     return fd < 0 ? -1 : 0;
                                 }),
              EACCES);
}

// The per-worker directory is a 256 KiB tmpfs of its own: a process with the agent's uid (all that
// can write there) fills it, not the host's /run; it goes with its worker.
TEST_F(HardeningTest, TheWorkerDirCannotFillTheHostRun) {
    const std::string user = "e0000000-0000-4000-8000-00000000000e";
    const std::string worker = worker_of(user);
    ASSERT_FALSE(worker.empty());
    const std::string dir = run_dir_of(gateway_->instance()) + "/" + worker;
    struct statfs fs_info {};
    ASSERT_EQ(::statfs(dir.c_str(), &fs_info), 0) << dir;
    EXPECT_EQ(fs_info.f_type, TMPFS_MAGIC);
    struct statvfs vfs {};
    ASSERT_EQ(::statvfs(dir.c_str(), &vfs), 0);
    EXPECT_EQ(vfs.f_blocks * vfs.f_frsize, 256u << 10);
    EXPECT_EQ(vfs.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC), ST_NOSUID | ST_NODEV | ST_NOEXEC);

    const auto fill = run_command("docker exec --user " + std::to_string(kAgentId) + " " + container_of(worker) +
                                  " dd if=/dev/zero of=/run/ci/fill bs=64k count=1024 2>&1");
    EXPECT_NE(fill.status, 0);
    EXPECT_THAT(fill.output, HasSubstr("No space left on device"));
    EXPECT_LT(fs::file_size(dir + "/fill"), 256u << 10);
    EXPECT_EQ(run_command("docker exec --user " + std::to_string(kAgentId) + " " + container_of(worker) +
                          " rm /run/ci/fill").status,
              0);
    EXPECT_EQ(text("print('still serving')", user), "still serving\n");

    auto released = http_request("POST", gateway_->url("/release"), json{{"user_uuid", user}}.dump(), kUserToken);
    EXPECT_EQ(released.status, 200) << released.body;
    EXPECT_TRUE(wait_until([&] { return !fs::exists(dir); }, 30s)) << dir << " outlived its worker";
    EXPECT_FALSE(mounted_at(dir));
}

// Reads and direct writes on the workspace volume run at the configured rates.
TEST_F(HardeningTest, BlockIoIsLimited) {
    const std::string out = text(R"(
import subprocess, time, os
def seconds(*args):
    started = time.monotonic()
    subprocess.run(['dd', *args, 'status=none'], check=True)
    return time.monotonic() - started
write = seconds('if=/dev/zero', 'of=blk.bin', 'bs=1M', 'count=16', 'oflag=direct')
read = seconds('if=blk.bin', 'of=/dev/null', 'bs=1M', 'iflag=direct')
iops = seconds('if=/dev/zero', 'of=iops.bin', 'bs=4k', 'count=300', 'oflag=direct')
os.remove('blk.bin'); os.remove('iops.bin')
print(f'{16 / write:.2f} {16 / read:.2f} {300 / iops:.1f}')
)");
    std::istringstream in(out);
    double write_mb_s = 0, read_mb_s = 0, write_iops = 0;
    ASSERT_TRUE(in >> write_mb_s >> read_mb_s >> write_iops) << out;
    RecordProperty("measured", out);
    std::cout << "measured: write " << write_mb_s << " MB/s, read " << read_mb_s << " MB/s, 4 KiB writes "
              << write_iops << " IOPS (limits " << kDiskMbPerSecond << " MB/s, " << kDiskIops << " IOPS)\n";
    // The disk itself does hundreds of MB/s and thousands of IOPS; a short burst may pass the limit.
    EXPECT_LE(write_mb_s, kDiskMbPerSecond * 1.25);
    EXPECT_LE(read_mb_s, kDiskMbPerSecond * 1.25);
    EXPECT_LE(write_iops, kDiskIops * 1.25);
    EXPECT_GE(write_mb_s, kDiskMbPerSecond * 0.5);
}

// No process carries a token in its arguments: the gateway and its workers read them from files.
TEST_F(HardeningTest, TheApiTokenIsInNoProcessArgv) {
    EXPECT_EQ(text("print('serving')"), "serving\n");
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string pid = entry.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string cmdline = read_file("/proc/" + pid + "/cmdline");
        EXPECT_EQ(cmdline.find(kUserToken), std::string::npos) << "pid " << pid;
        EXPECT_EQ(cmdline.find(kAdminToken), std::string::npos) << "pid " << pid;
    }
}

// start.sh takes the token from a file or stdin only: --api-key TOKEN, which ps would show to every
// host user while start.sh runs, is refused.
TEST(StartScriptToken, IsReadFromAFileOrStdinNeverFromArgv) {
    char var_dir[] = "/tmp/ci-hardening-var.XXXXXX";
    ASSERT_NE(::mkdtemp(var_dir), nullptr);
    const std::string start = "CI_VAR_DIR=" + std::string(var_dir) + " bash " CI_SOURCE_DIR "/start.sh ";
    const auto refused = run_command(start + "--api-key 0123456789abcdef0123 --print-settings 2>&1");
    EXPECT_EQ(refused.status, 2);
    EXPECT_THAT(refused.output, HasSubstr("--api-key-file"));
    const auto piped = run_command("printf '%s' 0123456789abcdef0123 | " + start + "--api-key-file - --print-settings 2>&1");
    EXPECT_EQ(piped.status, 0) << piped.output;
    const auto short_token = run_command("printf short | " + start + "--api-key-file - --print-settings 2>&1");
    EXPECT_EQ(short_token.status, 2);
    EXPECT_THAT(short_token.output, HasSubstr("at least 16 characters"));
    std::error_code ec;
    fs::remove_all(var_dir, ec);
}

// A gateway that died leaves its workers' dirs mounted: the next start unmounts and removes them.
TEST(WorkerDirLeftovers, AreUnmountedAndRemovedAtStart) {
    const std::string dir = run_dir_of(instance_name("leftover")) + "/0123456789ab";
    fs::create_directories(dir);
    ASSERT_EQ(::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=256k,mode=0700"), 0)
        << std::strerror(errno);
    std::ofstream(dir + "/agent.key") << "old key";
    {
        TestGateway gateway("leftover", TestGatewayOptions{.min_idle = 0, .max_total = 1, .loop_disk = false});
        EXPECT_FALSE(mounted_at(dir));
        EXPECT_FALSE(fs::exists(dir));
    }
    if (mounted_at(dir)) ::umount2(dir.c_str(), MNT_DETACH);
}

// The images are sparse: a new volume is made only when the space every live volume may still
// grow to is there too. On a 200 MiB file system with 64 MB volumes and min_free_mb 16, two
// volumes fit (the second needs its 64 + 16 MB beyond the first's 64), a third does not, though
// the images hold only a few MB each.
TEST(LoopDiskSpace, LiveVolumesFullSizesAreCounted) {
    char scratch[] = "/tmp/ci-hardening-disk.XXXXXX";
    ASSERT_NE(::mkdtemp(scratch), nullptr);
    ASSERT_EQ(::mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "size=200m,mode=0700"), 0) << std::strerror(errno);
    const std::string images = std::string(scratch) + "/images";
    {
        TestGatewayOptions options{.min_idle = 3, .max_total = 3,
                                   .worker_toml = "ram_mb = 256\ndisk_mb = 64\n"};
        options.loop_disk_toml = "image_dir = \"" + images + "\"\nmount_dir = \"" + std::string(scratch) +
                                 "/mounts\"\nmin_free_mb = 16\n";
        TestGateway gateway("diskspace", options);
        const auto image_count = [&] {
            int count = 0;
            for (const auto& entry : fs::directory_iterator(images))
                count += entry.path().extension() == ".img";
            return count;
        };
        EXPECT_TRUE(wait_until([&] { return image_count() == 2; }, 60s));
        std::this_thread::sleep_for(5s);  // the pool keeps trying for its third worker
        EXPECT_EQ(image_count(), 2);
        EXPECT_EQ(count_containers(gateway.instance()), 2);
        struct statvfs vfs {};
        ASSERT_EQ(::statvfs(images.c_str(), &vfs), 0);
        EXPECT_GT(static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize, 64u << 20)
            << "the third volume's size was free: only the promise refused it";
    }
    EXPECT_EQ(::umount2(scratch, 0), 0) << std::strerror(errno);
    ::rmdir(scratch);
}

}  // namespace
}  // namespace ci::test
