// The loop-disk plugin's free-space reserve (min_free_mb) and its accounting of what the sparse
// images already there may still grow by, on a 16 MiB tmpfs mounted for the test so that the
// figures are known. Mounting needs root, like the plugin itself: skipped otherwise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "loop_disk_storage.hpp"

namespace {

using namespace ci::loopdisk;
using ci::plugin::FailureKind;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class LoopDiskFreeSpace : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ci-loop-disk-free.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        if (::mount("ci-unit", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16m,mode=0700") != 0)
            GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno) << "); needs root";
        mounted_ = true;
    }
    void TearDown() override {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    void write_file(const std::string& name, std::size_t mb) {
        std::ofstream out(dir_ + "/" + name, std::ios::binary);
        const std::string block(1 << 20, 'x');
        for (std::size_t i = 0; i < mb; ++i) out << block;
        ASSERT_TRUE(out.flush()) << "writing " << name;
    }

    // A sparse file of `mb` MB holding nothing yet, as a new volume image is before it is formatted.
    void sparse_file(const std::string& name, std::size_t mb) {
        const int fd = ::open((dir_ + "/" + name).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0) << name;
        EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(mb << 20)), 0);
        ::close(fd);
    }

    std::string dir_;
    bool mounted_ = false;
};

TEST_F(LoopDiskFreeSpace, RefusesWhenTheVolumeAndTheReserveDoNotFit) {
    EXPECT_TRUE(check_free_space(dir_, 4, 8).ok());
    EXPECT_TRUE(check_free_space(dir_, 8, 8).ok());  // exactly what is there
    auto refused = check_free_space(dir_, 8, 9);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.kind(), FailureKind::exhausted);
    EXPECT_EQ(refused.error(), "host disk nearly full: 16 MB available for " + dir_ +
                                   ", a 8 MB volume needs 17 MB (its size plus min_free_mb 9 plus 0 MB the volumes there may still "
                                   "grow by)");

    write_file("data", 8);  // what users wrote into earlier volumes counts
    EXPECT_EQ(check_free_space(dir_, 4, 8).kind(), FailureKind::exhausted);
    EXPECT_TRUE(check_free_space(dir_, 4, 4).ok());
}

// A live volume's image takes little space until its user writes, but that user may fill it: its
// full size is promised, and a new volume must not count on that space.
TEST_F(LoopDiskFreeSpace, TheFullSizesOfLiveVolumesAreCounted) {
    sparse_file("default-w1.img", 10);
    sparse_file("other-instance-w2.img", 2);  // every image on the file system counts
    sparse_file("notes.txt", 10);             // not a volume image
    ASSERT_TRUE(promised_bytes(dir_).ok());
    EXPECT_EQ(promised_bytes(dir_).value(), 12u << 20);
    auto refused = check_free_space(dir_, 2, 3);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.kind(), FailureKind::exhausted);
    EXPECT_EQ(refused.error(), "host disk nearly full: 16 MB available for " + dir_ +
                                   ", a 2 MB volume needs 17 MB (its size plus min_free_mb 3 plus 12 MB the volumes "
                                   "there may still grow by)");
    EXPECT_TRUE(check_free_space(dir_, 2, 2).ok());

    // What a volume has written is no longer promised: it is used, and counted as such.
    {
        std::fstream image(dir_ + "/default-w1.img", std::ios::in | std::ios::out | std::ios::binary);
        const std::string block(1 << 20, 'x');
        for (int i = 0; i < 4; ++i) image << block;
    }
    EXPECT_EQ(promised_bytes(dir_).value(), 8u << 20);
    EXPECT_TRUE(check_free_space(dir_, 2, 2).ok());
    EXPECT_EQ(check_free_space(dir_, 2, 3).kind(), FailureKind::exhausted);
}

TEST_F(LoopDiskFreeSpace, ZeroTurnsTheCheckOff) {
    EXPECT_TRUE(check_free_space(dir_, 64, 0).ok());
    EXPECT_TRUE(check_free_space(dir_ + "/missing", 1, 0).ok());
    auto missing = check_free_space(dir_ + "/missing", 1, 1);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.kind(), FailureKind::other);
    EXPECT_THAT(missing.error(), HasSubstr("statvfs " + dir_ + "/missing"));
}

TEST_F(LoopDiskFreeSpace, AllocateRefusesBeforeMakingAnything) {
    StorageConfig config;
    config.image_dir = dir_ + "/images";
    config.mount_dir = dir_ + "/mounts";
    config.instance = "unit";
    config.min_free_mb = 1024;
    std::unique_ptr<LoopDiskStorage> storage;
    try {
        storage = std::make_unique<LoopDiskStorage>(config, nullptr);
    } catch (const std::runtime_error& e) {
        GTEST_SKIP() << e.what();
    }
    auto volume = storage->allocate("w1", 8);
    ASSERT_FALSE(volume.ok());
    EXPECT_EQ(volume.kind(), FailureKind::exhausted);
    EXPECT_THAT(volume.error(),
                StartsWith("allocate w1: host disk nearly full: 16 MB available for " + storage->config().image_dir));
    EXPECT_FALSE(std::filesystem::exists(storage->image_path("w1")));
    EXPECT_FALSE(std::filesystem::exists(storage->mount_path("w1")));
}

}  // namespace
