// Unit tests of what the docker-backend adds to a worker's container beyond limits and users: its
// seccomp profile, AppArmor where the host has it, no core dumps, block-I/O limits on the workspace
// volume's device, and the image's ids check. No Docker needed; the real stack's tests are
// tests/security/hardening_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "docker_api.hpp"
#include "host_facts.hpp"
#include "seccomp_profile.hpp"

namespace {

using namespace ci::docker;
using ci::plugin::WorkerSpec;
using nlohmann::json;
using ::testing::HasSubstr;

WorkerSpec spec_with_volume() {
    WorkerSpec spec;
    spec.worker_id = "0123456789ab";
    spec.limits.cpus = 1;
    spec.limits.memory_mb = 256;
    spec.limits.pids = 64;
    spec.limits.tmp_mb = 16;
    spec.agent_key = "k";
    spec.workspace_host_path = "/run/code-interpreter-disks/default-0123456789ab";
    return spec;
}

bool has_condition(const json& rule, const char* key) {
    return rule.contains(key) && !rule[key].empty();  // Docker writes none as {} or []
}

// Every name the profile lets through in some case, whatever the condition.
std::set<std::string> named_calls(const json& profile) {
    std::set<std::string> names;
    for (const auto& rule : profile["syscalls"])
        if (rule["action"] == "SCMP_ACT_ALLOW")
            for (const auto& name : rule["names"]) names.insert(name.get<std::string>());
    return names;
}

// The capabilities a worker's container ever has (networked modes add NET_ADMIN): Docker keeps a
// rule whose includes.caps are all among them and whose excludes.caps are none of them.
const std::set<std::string> kWorkerCaps = {"CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_NET_ADMIN"};

std::set<std::string> calls_a_worker_gets(const json& profile) {
    std::set<std::string> names;
    for (const auto& rule : profile["syscalls"]) {
        if (rule["action"] != "SCMP_ACT_ALLOW") continue;
        bool kept = true;
        if (rule.contains("includes") && rule["includes"].contains("caps"))
            for (const auto& cap : rule["includes"]["caps"]) kept = kept && kWorkerCaps.count(cap.get<std::string>());
        if (rule.contains("excludes") && rule["excludes"].contains("caps"))
            for (const auto& cap : rule["excludes"]["caps"]) kept = kept && !kWorkerCaps.count(cap.get<std::string>());
        if (kept)
            for (const auto& name : rule["names"]) names.insert(name.get<std::string>());
    }
    return names;
}

// The names allowed with no condition on capabilities, architecture, kernel or arguments.
std::set<std::string> unconditional_calls(const json& profile) {
    std::set<std::string> names;
    for (const auto& rule : profile["syscalls"])
        if (rule["action"] == "SCMP_ACT_ALLOW" && !has_condition(rule, "includes") &&
            !has_condition(rule, "excludes") && !has_condition(rule, "args"))
            for (const auto& name : rule["names"]) names.insert(name.get<std::string>());
    return names;
}

TEST(SeccompProfile, IsDockersDefaultWithoutTheCallsUserCodeNeverNeeds) {
    const json profile = json::parse(kSeccompProfile);
    EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ERRNO");  // an allow-list: anything unnamed is refused
    const auto allowed = named_calls(profile);
    // Gone from the profile, whatever capability a container might have: Docker's default allows
    // io_uring, modify_ldt and ptrace without any, and bpf, perf_event_open and the ptrace family
    // with one; it refuses userfaultfd and the keyring too.
    for (const char* refused :
         {"io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace", "process_vm_readv", "process_vm_writev",
          "kcmp", "pidfd_getfd", "process_madvise", "bpf", "perf_event_open", "modify_ldt", "userfaultfd", "keyctl",
          "add_key", "request_key", "kexec_load", "kexec_file_load"})
        EXPECT_EQ(allowed.count(refused), 0u) << refused;
    // Kept from Docker's default behind capabilities no worker has: out of reach as well.
    const auto worker = calls_a_worker_gets(profile);
    for (const char* refused : {"init_module", "finit_module", "delete_module", "open_by_handle_at", "mount", "umount2",
                                "unshare", "setns", "clone3", "chroot", "reboot", "iopl", "ioperm", "syslog"})
        EXPECT_EQ(worker.count(refused), 0u) << refused;
    EXPECT_EQ(allowed.count("mount"), 1u);  // the CAP_SYS_ADMIN rule is Docker's, kept as it is
    // What Python, its libraries and the agent use.
    const auto always = unconditional_calls(profile);
    for (const char* needed : {"read", "write", "openat", "openat2", "execve", "mmap", "futex", "epoll_wait",
                               "setresuid", "setresgid", "setgroups", "capset", "prctl", "getrandom", "statx",
                               "rseq", "clock_nanosleep", "wait4", "memfd_create", "sendmsg", "recvmsg"})
        EXPECT_EQ(always.count(needed), 1u) << needed;
    EXPECT_EQ(allowed.count("clone"), 1u);   // without namespace flags: Docker's argument filter
    EXPECT_EQ(allowed.count("socket"), 1u);  // any family but AF_VSOCK, as in Docker's
}

TEST(SeccompProfile, EveryWorkerGetsItWithNoNewPrivileges) {
    const json h = build_create_request(BackendConfig{}, spec_with_volume(), "/run/ci-test/0123456789ab")["HostConfig"];
    EXPECT_EQ(h["SecurityOpt"], json::array({"no-new-privileges:true", "seccomp=" + std::string(kSeccompProfile)}));
}

TEST(AppArmor, DockerDefaultIsNamedWhereTheHostHasAppArmor) {
    const json h = build_create_request(BackendConfig{}, spec_with_volume(), "/d", HostExtras{true, {}})["HostConfig"];
    EXPECT_EQ(h["SecurityOpt"].size(), 3u);
    EXPECT_EQ(h["SecurityOpt"].back(), "apparmor=docker-default");
}

class TempTree : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ci-host-facts.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        root_ = tmpl;
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
    void write(const std::string& relative, const std::string& text) {
        std::filesystem::create_directories(std::filesystem::path(root_ + "/" + relative).parent_path());
        std::ofstream(root_ + "/" + relative) << text;
    }
    std::string root_;
};

using AppArmorDetection = TempTree;

TEST_F(AppArmorDetection, NeedsSecurityfsAndTheModuleOn) {
    EXPECT_FALSE(apparmor_enabled(root_));  // this host's case: no apparmor under securityfs
    write("module/apparmor/parameters/enabled", "Y\n");
    EXPECT_FALSE(apparmor_enabled(root_));
    std::filesystem::create_directories(root_ + "/kernel/security/apparmor");
    EXPECT_TRUE(apparmor_enabled(root_));
    write("module/apparmor/parameters/enabled", "N\n");
    EXPECT_FALSE(apparmor_enabled(root_));
}

TEST(CoreDumps, AreOffForTheWholeContainer) {
    const json h = build_create_request(BackendConfig{}, spec_with_volume(), "/d")["HostConfig"];
    EXPECT_THAT(h["Ulimits"], ::testing::Contains(json{{"Name", "core"}, {"Soft", 0}, {"Hard", 0}}));
}

TEST(BlockIo, LimitsApplyToTheWorkspaceDevice) {
    BackendConfig config;
    config.disk_read_mb_per_s = 20;
    config.disk_write_mb_per_s = 10;
    config.disk_read_iops = 300;
    config.disk_write_iops = 0;  // no limit: no entry
    const json h = build_create_request(config, spec_with_volume(), "/d", HostExtras{false, "/dev/loop7"})["HostConfig"];
    EXPECT_EQ(h["BlkioDeviceReadBps"], json::parse(R"([{"Path":"/dev/loop7","Rate":20971520}])"));
    EXPECT_EQ(h["BlkioDeviceWriteBps"], json::parse(R"([{"Path":"/dev/loop7","Rate":10485760}])"));
    EXPECT_EQ(h["BlkioDeviceReadIOps"], json::parse(R"([{"Path":"/dev/loop7","Rate":300}])"));
    EXPECT_FALSE(h.contains("BlkioDeviceWriteIOps"));

    // A workspace on no block device (the backend's own tmpfs) gets none.
    const json none = build_create_request(config, spec_with_volume(), "/d")["HostConfig"];
    for (const char* key : {"BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"})
        EXPECT_FALSE(none.contains(key)) << key;
}

TEST(BlockIo, TheDeviceNameComesFromSysfs) {
    EXPECT_EQ(uevent_device_name("MAJOR=7\nMINOR=3\nDEVNAME=loop3\nDEVTYPE=disk\n"), "loop3");
    EXPECT_EQ(uevent_device_name("MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE=partition"), "vda1");
    EXPECT_EQ(uevent_device_name("MAJOR=7\nMINOR=3\n"), "");
    EXPECT_EQ(uevent_device_name("DEVNAME=../etc/passwd\n"), "");
    EXPECT_EQ(uevent_device_name(""), "");
}

using BlockDevice = TempTree;

TEST_F(BlockDevice, NoneUnderAFileSystemWithoutADisk) {
    EXPECT_EQ(block_device_of("/proc"), "");  // proc, like tmpfs and overlay, has no block device
    EXPECT_EQ(block_device_of(root_ + "/missing"), "");
    // The node must be the device itself: a sysfs that names another is not believed.
    write("sys/dev/block/0:0/uevent", "DEVNAME=null\n");
    EXPECT_EQ(block_device_of("/proc", root_ + "/sys", "/dev"), "");
}

TEST(ImageIds, TheImageMustCarryTheConfiguredUsers) {
    const BackendConfig config;
    const auto image = [](const json& labels) { return json{{"Id", "sha256:x"}, {"Config", {{"Labels", labels}}}}; };
    EXPECT_EQ(image_identity_mismatch(config, image({{kLabelAgentIds, "2100000990:2100000990"},
                                                     {kLabelKernelIds, "2100001000:2100001000"}})),
              "");
    const std::string old = image_identity_mismatch(config, image({{kLabelAgentIds, "990:990"},
                                                                    {kLabelKernelIds, "1000:1000"}}));
    EXPECT_THAT(old, HasSubstr("its ci-agent user is 990:990, the configuration's agent_uid:agent_gid say "
                               "2100000990:2100000990"));
    EXPECT_THAT(old, HasSubstr("its sandbox user is 1000:1000, the configuration's kernel_uid:kernel_gid say "
                               "2100001000:2100001000"));
    EXPECT_THAT(image_identity_mismatch(config, image(json::object())),
                HasSubstr("unknown (no label code-interpreter.agent-ids: an image older than these labels)"));
    EXPECT_THAT(image_identity_mismatch(config, json{{"Id", "sha256:x"}, {"Config", {{"Labels", nullptr}}}}),
                HasSubstr("no label code-interpreter.kernel-ids"));
}

}  // namespace
