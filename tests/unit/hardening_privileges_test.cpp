// drop_privileges on the real kernel, in a forked child (the test process keeps its own rights),
// and the /proc/<pid>/status parser the checks use.
#include <gtest/gtest.h>

#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "code_interpreter/agent/privileges.hpp"

namespace ci::agent {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(HardeningPrivileges, ParsesCapabilityLinesOfProcStatus) {
    const CapabilityStatus s = parse_capability_status(
        "Name:\tpython3\nUid:\t1000\t1000\t1000\t1000\nCapInh:\t0000000000000000\n"
        "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
        "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n");
    EXPECT_TRUE(s.all_dropped());
    const CapabilityStatus root = parse_capability_status(
        "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n"
        "CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n");
    EXPECT_EQ(root.permitted, 0xa80425fbULL);
    EXPECT_EQ(root.no_new_privs, 0);
    EXPECT_FALSE(root.all_dropped());
    // Missing or garbled fields never read as "dropped".
    EXPECT_FALSE(parse_capability_status("").all_dropped());
    EXPECT_FALSE(parse_capability_status("CapInh:\tzz\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\n"
                                         "NoNewPrivs:\t1\n")
                     .all_dropped());
}

TEST(HardeningPrivileges, SecurebitsKeepTheSetuidFixupAndLockEverything) {
    const unsigned long bits = locked_securebits();
    EXPECT_TRUE(bits & SECBIT_NOROOT);
    EXPECT_TRUE(bits & SECBIT_NOROOT_LOCKED);
    EXPECT_FALSE(bits & SECBIT_NO_SETUID_FIXUP);  // leaving uid 0 must clear the capabilities
    EXPECT_TRUE(bits & SECBIT_NO_SETUID_FIXUP_LOCKED);
    EXPECT_FALSE(bits & SECBIT_KEEP_CAPS);
    EXPECT_TRUE(bits & SECBIT_KEEP_CAPS_LOCKED);
    EXPECT_TRUE(bits & SECBIT_NO_CAP_AMBIENT_RAISE);
    EXPECT_TRUE(bits & SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED);
    EXPECT_GE(last_capability(), 36);  // CAP_AUDIT_READ exists on every kernel we support
}

// Exit codes of the child below.
enum ChildResult { kOk = 0, kThrew = 10, kCapsLeft = 11, kSecurebits = 12, kCore = 13, kRoot = 14 };

TEST(HardeningPrivileges, DropLeavesNoCapabilityAndLocksSecurebits) {
    if (::geteuid() != 0 || ::prctl(PR_CAPBSET_READ, 8 /* CAP_SETPCAP */, 0, 0, 0) != 1)
        GTEST_SKIP() << "needs root with CAP_SETPCAP (./test.sh runs the unit tests as root)";
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int result = kOk;
        try {
            drop_privileges(65534, 65534, {65534});
            make_undumpable();
            const CapabilityStatus s = parse_capability_status(read_file("/proc/self/status"));
            rlimit core{};
            ::getrlimit(RLIMIT_CORE, &core);
            if (!s.all_dropped()) result = kCapsLeft;
            else if (static_cast<unsigned long>(::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0)) != locked_securebits())
                result = kSecurebits;
            else if (core.rlim_cur != 0 || core.rlim_max != 0 || ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
                result = kCore;
            else if (::setuid(0) == 0 || ::setgid(0) == 0 || ::prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0)
                result = kRoot;
        } catch (...) {
            result = kThrew;
        }
        ::_exit(result);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), kOk);
}

TEST(HardeningPrivileges, RefusesRoot) {
    EXPECT_THROW(drop_privileges(0, 1000, {1000}), std::runtime_error);
    EXPECT_THROW(drop_privileges(1000, 0, {1000}), std::runtime_error);
}

}  // namespace
}  // namespace ci::agent
