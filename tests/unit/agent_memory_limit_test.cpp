// The kernel's memory limit: reading the container's limits from a cgroup tree, and the limit
// computed from them (worker/agent/.../memory_limit.hpp).
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "code_interpreter/agent/memory_limit.hpp"

namespace ci::agent {
namespace {

namespace fs = std::filesystem;

// A scratch directory standing for /sys/fs/cgroup, removed at the end of the test.
class AgentCgroupTree : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() /
                ("ci-cgroup-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        fs::create_directories(root_);
    }
    void TearDown() override { fs::remove_all(root_); }

    void write(const std::string& relative, const std::string& text) {
        const fs::path path = root_ / relative;
        fs::create_directories(path.parent_path());
        std::ofstream(path) << text;
    }

    fs::path root_;
};

TEST(AgentMemoryLimit, ParsesTheLimitFilesOfBothCgroupVersions) {
    EXPECT_EQ(parse_cgroup_memory_limit("1073741824\n"), 1073741824u);
    EXPECT_EQ(parse_cgroup_memory_limit("268435456"), 268435456u);
    EXPECT_EQ(parse_cgroup_memory_limit("max\n"), std::nullopt);  // v2: no limit
    // v1: no limit is LONG_MAX rounded down to the page size (4 KiB and 64 KiB pages).
    EXPECT_EQ(parse_cgroup_memory_limit("9223372036854771712\n"), std::nullopt);
    EXPECT_EQ(parse_cgroup_memory_limit("9223372036854710272\n"), std::nullopt);
    for (const char* bad : {"", "\n", "0\n", "-1\n", "12 MiB", "0x100", "1e9", "18446744073709551616"})
        EXPECT_EQ(parse_cgroup_memory_limit(bad), std::nullopt) << bad;
}

TEST(AgentMemoryLimit, LeavesTheMarginBelowTheContainerButNeverGoesUnderTheFloor) {
    EXPECT_EQ(kKernelMemoryMargin, 64 * kMiB);
    EXPECT_EQ(kKernelMemoryFloor, 512 * kMiB);
    EXPECT_EQ(kernel_data_limit(1024 * kMiB), 960 * kMiB);
    EXPECT_EQ(kernel_data_limit(2048 * kMiB), 1984 * kMiB);
    EXPECT_EQ(kernel_data_limit(576 * kMiB), 512 * kMiB);
    EXPECT_EQ(kernel_data_limit(577 * kMiB), 513 * kMiB);
    // Small workers keep the floor: the image's libraries need it to work at all.
    EXPECT_EQ(kernel_data_limit(256 * kMiB), 512 * kMiB);
    EXPECT_EQ(kernel_data_limit(32 * kMiB), 512 * kMiB);
    EXPECT_EQ(kernel_data_limit(1), 512 * kMiB);
}

TEST(AgentMemoryLimit, RoundsACpuQuotaUpToWholeCpus) {
    EXPECT_EQ(cpus_of_quota(100000, 100000), 1u);
    EXPECT_EQ(cpus_of_quota(150000, 100000), 2u);
    EXPECT_EQ(cpus_of_quota(50000, 100000), 1u);
    EXPECT_EQ(cpus_of_quota(400000, 100000), 4u);
    EXPECT_EQ(cpus_of_quota(1, 1000000), 1u);
    EXPECT_EQ(cpus_of_quota(-1, 100000), std::nullopt);  // v1: no quota
    EXPECT_EQ(cpus_of_quota(0, 100000), std::nullopt);
    EXPECT_EQ(cpus_of_quota(100000, 0), std::nullopt);
}

TEST_F(AgentCgroupTree, ReadsCgroupV2) {
    write("memory.max", "1073741824\n");
    write("cpu.max", "150000 100000\n");
    EXPECT_EQ(read_container_memory_limit(root_), 1024 * kMiB);
    EXPECT_EQ(read_container_cpus(root_), 2u);
}

TEST_F(AgentCgroupTree, ReadsCgroupV2WithoutLimits) {
    write("memory.max", "max\n");
    write("cpu.max", "max 100000\n");
    EXPECT_EQ(read_container_memory_limit(root_), std::nullopt);
    EXPECT_EQ(read_container_cpus(root_), std::nullopt);
}

TEST_F(AgentCgroupTree, ReadsCgroupV1) {
    write("memory/memory.limit_in_bytes", "268435456\n");
    write("cpu/cpu.cfs_quota_us", "100000\n");
    write("cpu/cpu.cfs_period_us", "100000\n");
    EXPECT_EQ(read_container_memory_limit(root_), 256 * kMiB);
    EXPECT_EQ(read_container_cpus(root_), 1u);
}

TEST_F(AgentCgroupTree, ReadsCgroupV1WithoutLimits) {
    write("memory/memory.limit_in_bytes", "9223372036854771712\n");
    write("cpu/cpu.cfs_quota_us", "-1\n");
    write("cpu/cpu.cfs_period_us", "100000\n");
    EXPECT_EQ(read_container_memory_limit(root_), std::nullopt);
    EXPECT_EQ(read_container_cpus(root_), std::nullopt);
}

TEST_F(AgentCgroupTree, NoCgroupFilesMeanNoLimits) {
    EXPECT_EQ(read_container_memory_limit(root_), std::nullopt);
    EXPECT_EQ(read_container_cpus(root_), std::nullopt);
    EXPECT_EQ(read_container_memory_limit(root_ / "absent"), std::nullopt);
    // Half of v1's CPU pair, or garbage, is no quota either.
    write("cpu/cpu.cfs_quota_us", "100000\n");
    EXPECT_EQ(read_container_cpus(root_), std::nullopt);
    write("cpu.max", "garbage\n");
    EXPECT_EQ(read_container_cpus(root_), std::nullopt);
}

}  // namespace
}  // namespace ci::agent
