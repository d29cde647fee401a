// Unit tests of the loop-disk plugin's names and of its readers of kernel text files
// (/proc/self/mountinfo, /sys/block/loop*/loop/backing_file), plus its helpers that need no root.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "code_interpreter/fd/unique_fd.hpp"
#include "ext4_format.hpp"
#include "volume_names.hpp"

namespace {

using namespace ci::loopdisk;
using ci::fd::UniqueFd;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(LoopDiskNames, FilesAndMountPointsAreScopedByInstance) {
    EXPECT_EQ(image_file_name("default", "0123456789ab"), "default-0123456789ab.img");
    EXPECT_EQ(mount_point_name("t42-ld", "w1"), "t42-ld-w1");
}

TEST(LoopDiskNames, WorkerIdsAreRecognisedOnlyForTheirInstance) {
    EXPECT_EQ(worker_of_image_name("default", "default-0123456789ab.img"), "0123456789ab");
    EXPECT_EQ(worker_of_mount_point_name("default", "default-0123456789ab"), "0123456789ab");
    EXPECT_EQ(worker_of_image_name("a", "a-b-123.img"), std::nullopt);  // instance "a-b"'s, not "a"'s
    EXPECT_EQ(worker_of_image_name("a-b", "a-b-123.img"), "123");
    EXPECT_EQ(worker_of_image_name("default", "default-w1"), std::nullopt);          // no .img
    EXPECT_EQ(worker_of_image_name("default", "default-.img"), std::nullopt);        // no id
    EXPECT_EQ(worker_of_image_name("default", "other-w1.img"), std::nullopt);
    EXPECT_EQ(worker_of_image_name("default", "defaultw1.img"), std::nullopt);
    EXPECT_EQ(worker_of_mount_point_name("default", "default-w1.img"), std::nullopt);  // '.' is not in an id
    EXPECT_EQ(worker_of_mount_point_name("default", "templates"), std::nullopt);
}

TEST(LoopDiskNames, WorkerIdCharacters) {
    EXPECT_TRUE(is_valid_worker_id("0123456789ab"));
    EXPECT_TRUE(is_valid_worker_id("Crash_1"));
    EXPECT_TRUE(is_valid_worker_id(std::string(64, 'a')));
    for (const std::string& bad : std::vector<std::string>{"", "a-b", "../x", "a/b", "a.b", "a b", std::string(65, 'a')})
        EXPECT_FALSE(is_valid_worker_id(bad)) << bad;
}

TEST(LoopDiskBackingFile, PathAndDeletedMark) {
    auto live = parse_backing_file("/var/lib/code-interpreter/disks/default-w1.img\n");
    EXPECT_EQ(live.path, "/var/lib/code-interpreter/disks/default-w1.img");
    EXPECT_FALSE(live.deleted);
    auto gone = parse_backing_file("/var/lib/code-interpreter/disks/default-w1.img (deleted)\n");
    EXPECT_EQ(gone.path, "/var/lib/code-interpreter/disks/default-w1.img");
    EXPECT_TRUE(gone.deleted);
    EXPECT_EQ(parse_backing_file("/x/with space.img").path, "/x/with space.img");
    EXPECT_EQ(parse_backing_file("").path, "");
}

TEST(LoopDiskMountinfo, ParsesFieldsOptionalTagsAndEscapes) {
    const std::string text =
        "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
        "41 26 254:0 /var/lib/docker /var/lib/docker rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "99 26 7:3 / /run/code-interpreter-disks/default-w1 rw,nosuid,nodev,relatime shared:5 master:2 - ext4 "
        "/dev/loop3 rw\n"
        "100 26 0:50 / /mnt/with\\040space\\011tab\\134slash rw - tmpfs tmp\\040fs rw,size=4k\n"
        "garbage line\n"
        "101 26 0:51 / /short rw -\n"
        "\n";
    const auto entries = parse_mountinfo(text);
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[0].mount_point, "/");
    EXPECT_EQ(entries[0].super_options, "rw,discard");
    EXPECT_EQ(entries[1].mount_point, "/var/lib/docker");
    EXPECT_EQ(entries[1].fs_type, "ext4");
    EXPECT_EQ(entries[2].mount_point, "/run/code-interpreter-disks/default-w1");
    EXPECT_EQ(entries[2].mount_options, "rw,nosuid,nodev,relatime");
    EXPECT_EQ(entries[2].fs_type, "ext4");
    EXPECT_EQ(entries[2].source, "/dev/loop3");
    EXPECT_EQ(entries[3].mount_point, "/mnt/with space\ttab\\slash");
    EXPECT_EQ(entries[3].source, "tmp fs");
}

TEST(LoopDiskMountinfo, SplitParent) {
    EXPECT_EQ(split_parent("/run/disks/default-w1"), std::make_pair(std::string_view("/run/disks"), std::string_view("default-w1")));
    EXPECT_EQ(split_parent("/top"), std::make_pair(std::string_view("/"), std::string_view("top")));
    EXPECT_EQ(split_parent("name"), std::make_pair(std::string_view(""), std::string_view("name")));
}

TEST(LoopDiskFormat, MkfsArgumentsAreFixedAndNeedNoShell) {
    const auto args = mkfs_arguments("/usr/sbin/mkfs.ext4", "/d/x.img");
    EXPECT_EQ(args.front(), "/usr/sbin/mkfs.ext4");
    EXPECT_EQ(args.back(), "/d/x.img");
    const auto has = [&](const std::string& a, const std::string& b) {
        return std::adjacent_find(args.begin(), args.end(), [&](const std::string& x, const std::string& y) {
                   return x == a && y == b;
               }) != args.end();
    };
    EXPECT_TRUE(has("-m", "0"));  // the whole size is the user's
    EXPECT_TRUE(has("-b", "4096"));
    EXPECT_TRUE(has("-O", "^has_journal"));
    EXPECT_NE(std::find(args.begin(), args.end(), "-F"), args.end());
    EXPECT_NE(std::find(args.begin(), args.end(), "-q"), args.end());
}

TEST(LoopDiskFormat, RunProgramReportsStatusAndOutput) {
    EXPECT_TRUE(run_program({"/bin/true"}, 10).ok());
    auto failed = run_program({"/bin/sh", "-c", "echo 'bad thing' >&2; exit 3"}, 10);
    ASSERT_FALSE(failed.ok());
    EXPECT_THAT(failed.error(), HasSubstr("exited with status 3: bad thing"));
    auto env = run_program({"/bin/sh", "-c", "test \"$LC_ALL\" = C && test -z \"$HOME\""}, 10);
    EXPECT_TRUE(env.ok()) << env.error();
    auto missing = run_program({"/nonexistent/mkfs"}, 10);
    ASSERT_FALSE(missing.ok());
    EXPECT_THAT(missing.error(), HasSubstr("/nonexistent/mkfs"));
    auto slow = run_program({"/bin/sleep", "30"}, 1);
    ASSERT_FALSE(slow.ok());
    EXPECT_THAT(slow.error(), HasSubstr("did not finish within 1 s"));
}

class LoopDiskCopySparse : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/ci-loop-disk-unit-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    UniqueFd open_new(const std::string& name, off_t size) {
        UniqueFd fd(::open((dir_ + "/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        EXPECT_TRUE(fd);
        EXPECT_EQ(::ftruncate(fd.get(), size), 0);
        return fd;
    }
    std::string dir_;
};

TEST_F(LoopDiskCopySparse, CopiesDataAndKeepsHoles) {
    constexpr off_t kSize = 64 << 20;
    UniqueFd src = open_new("src", kSize);
    const std::string a(4096, 'a'), b(8192, 'b'), c(100, 'c');
    ASSERT_EQ(::pwrite(src.get(), a.data(), a.size(), 0), static_cast<ssize_t>(a.size()));
    ASSERT_EQ(::pwrite(src.get(), b.data(), b.size(), 32 << 20), static_cast<ssize_t>(b.size()));
    ASSERT_EQ(::pwrite(src.get(), c.data(), c.size(), kSize - 100), static_cast<ssize_t>(c.size()));
    UniqueFd dst = open_new("dst", kSize);
    auto st = copy_sparse(src.get(), dst.get(), kSize);
    ASSERT_TRUE(st.ok()) << st.error();

    std::string got(8192, '\0');
    ASSERT_EQ(::pread(dst.get(), got.data(), 4096, 0), 4096);
    EXPECT_EQ(got.substr(0, 4096), a);
    ASSERT_EQ(::pread(dst.get(), got.data(), 8192, 32 << 20), 8192);
    EXPECT_EQ(got, b);
    ASSERT_EQ(::pread(dst.get(), got.data(), 100, kSize - 100), 100);
    EXPECT_EQ(got.substr(0, 100), c);
    ASSERT_EQ(::pread(dst.get(), got.data(), 4096, 16 << 20), 4096);
    EXPECT_EQ(got.substr(0, 4096), std::string(4096, '\0'));
    struct stat s;
    ASSERT_EQ(::fstat(dst.get(), &s), 0);
    EXPECT_EQ(s.st_size, kSize);
    EXPECT_LT(s.st_blocks * 512, 1 << 20) << "the copy filled holes";
}

}  // namespace
