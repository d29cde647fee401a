// The loop-disk storage provider on real loop devices, ext4 and mount(2) (needs root, as in
// ./test.sh). Each test has its own instance name and temporary directories, and a scratch owner
// that unmounts, detaches and deletes whatever is left under them even when an assertion fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loop_device.hpp"
#include "loop_disk_storage.hpp"
#include "mount.hpp"
#include "storage_config.hpp"
#include "volume_names.hpp"

namespace {

using namespace ci::loopdisk;
namespace fs = std::filesystem;

constexpr std::uint64_t kSizeMb = 64;

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');) out.push_back(item);
    return out;
}

bool has_option(const std::string& options, const std::string& option) {
    const auto all = split_commas(options);
    return std::find(all.begin(), all.end(), option) != all.end();
}

std::vector<MountEntry> mounts() {
    auto m = read_mountinfo();
    EXPECT_TRUE(m.ok()) << m.error();
    return m.ok() ? m.value() : std::vector<MountEntry>{};
}

std::optional<MountEntry> mount_at(const std::string& path) {
    std::optional<MountEntry> found;
    for (const auto& m : mounts())
        if (m.mount_point == path) found = m;  // the last one is the one on top
    return found;
}

std::vector<AttachedLoop> loops_backed_by(const std::string& path_prefix) {
    auto loops = list_attached_loops();
    EXPECT_TRUE(loops.ok()) << loops.error();
    std::vector<AttachedLoop> out;
    if (loops.ok())
        for (const auto& l : loops.value())
            if (l.backing.path.rfind(path_prefix, 0) == 0) out.push_back(l);
    return out;
}

// Owns a temporary directory tree; on destruction unmounts every mount under it, detaches every
// loop device backed by a file under it, and deletes it. Independent of the provider under test.
class Scratch {
public:
    Scratch() {
        char pattern[] = "/tmp/ci-loop-disk-XXXXXX";
        if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
        root_ = pattern;
    }
    ~Scratch() { clean(); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    const std::string& root() const { return root_; }

    // Returns what it had to clean up, for tests that expect nothing.
    int clean() {
        int found = 0;
        std::vector<std::string> points;
        for (const auto& m : mounts())
            if (m.mount_point.rfind(root_ + "/", 0) == 0) points.push_back(m.mount_point);
        std::sort(points.rbegin(), points.rend());  // deepest first
        for (const auto& p : points) {
            ++found;
            ::umount2(p.c_str(), MNT_DETACH);
        }
        for (const auto& l : loops_backed_by(root_ + "/")) {
            ++found;
            (void)detach_loop(l);
        }
        std::error_code ec;
        fs::remove_all(root_, ec);
        return found;
    }

private:
    std::string root_;
};

class LoopDiskStorageTest : public ::testing::Test {
protected:
    void SetUp() override {
        static std::atomic<int> counter{0};
        config_.instance = "t" + std::to_string(::getpid()) + "-ld" + std::to_string(counter++);
        config_.image_dir = scratch_.root() + "/images";
        config_.mount_dir = scratch_.root() + "/mounts";
        storage_ = make_storage();
    }

    std::unique_ptr<LoopDiskStorage> make_storage(FormatMethod method = FormatMethod::template_copy) {
        return std::make_unique<LoopDiskStorage>(
            config_, [](ci::plugin::LogLevel level, const std::string& line) {
                if (level >= ci::plugin::LogLevel::warn) std::fprintf(stderr, "[storage] %s\n", line.c_str());
            },
            method);
    }

    std::string allocate(const std::string& id, std::uint64_t size_mb = kSizeMb) {
        auto v = storage_->allocate(id, size_mb);
        EXPECT_TRUE(v.ok()) << v.error();
        if (!v.ok()) return {};
        EXPECT_EQ(v.value().worker_id, id);
        return v.value().host_path;
    }

    void expect_gone(const std::string& id) {
        const std::string image = storage_->image_path(id), target = storage_->mount_path(id);
        EXPECT_FALSE(mount_at(target)) << target << " still mounted";
        EXPECT_FALSE(fs::exists(target)) << target << " still exists";
        EXPECT_FALSE(fs::exists(image)) << image << " still exists";
        EXPECT_TRUE(loops_backed_by(image).empty()) << "a loop device still names " << image;
    }

    // Writes 1 MiB blocks into `path` until a write fails; returns the bytes written and errno.
    static std::pair<std::uint64_t, int> fill(const std::string& path) {
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return {0, errno};
        const std::string block(1 << 20, 'x');
        std::uint64_t written = 0;
        int err = 0;
        while (true) {
            const ssize_t n = ::write(fd, block.data(), block.size());
            if (n < 0) {
                err = errno;
                break;
            }
            written += static_cast<std::uint64_t>(n);
            if (written > (kSizeMb + 16) << 20) break;  // would mean the limit does not hold
        }
        if (err == 0 && ::fsync(fd) != 0) err = errno;
        ::close(fd);
        return {written, err};
    }

    Scratch scratch_;  // destroyed last: cleans up whatever the provider left
    StorageConfig config_;
    std::unique_ptr<LoopDiskStorage> storage_;
};

TEST_F(LoopDiskStorageTest, AllocatesAnEmptyExt4VolumeMountedNosuidNodevForTheOwner) {
    const std::string path = allocate("w1");
    ASSERT_FALSE(path.empty());
    EXPECT_EQ(path, fs::canonical(config_.mount_dir).string() + "/" + config_.instance + "-w1");

    const auto m = mount_at(path);
    ASSERT_TRUE(m) << path << " is not in /proc/self/mountinfo";
    EXPECT_EQ(m->fs_type, "ext4");
    EXPECT_TRUE(has_option(m->mount_options, "nosuid")) << m->mount_options;
    EXPECT_TRUE(has_option(m->mount_options, "nodev")) << m->mount_options;
    EXPECT_TRUE(has_option(m->mount_options, "rw")) << m->mount_options;
    EXPECT_EQ(m->source.rfind("/dev/loop", 0), 0u) << m->source;

    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 2100001000u);  // the image's sandbox user
    EXPECT_EQ(st.st_gid, 2100001000u);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_TRUE(fs::is_empty(path)) << "lost+found or other entries left in the volume";

    struct statvfs vfs;
    ASSERT_EQ(::statvfs(path.c_str(), &vfs), 0);
    const std::uint64_t bytes = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    EXPECT_LE(bytes, kSizeMb << 20);
    EXPECT_GT(bytes, (kSizeMb - 4) << 20) << "file-system overhead larger than expected";
    // -m 0: nothing reserved for root; only ext4's own reserve for metadata (s_resv_clusters, 2%).
    EXPECT_LE(vfs.f_bfree - vfs.f_bavail, (kSizeMb << 20) / vfs.f_frsize / 50 + 1) << "blocks reserved for root";

    // The loop device is backed by this worker's image, which is sparse.
    const std::string image = storage_->image_path("w1");
    const auto loops = loops_backed_by(image);
    ASSERT_EQ(loops.size(), 1u);
    EXPECT_EQ(loops[0].device, m->source);
    EXPECT_FALSE(loops[0].backing.deleted);
    ASSERT_EQ(::stat(image.c_str(), &st), 0);
    EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), kSizeMb << 20);
    EXPECT_LT(st.st_blocks * 512, 8 << 20) << "the image is not sparse";
    EXPECT_EQ(st.st_mode & 07777, 0600u);

    ASSERT_TRUE(storage_->release("w1").ok());
    expect_gone("w1");
}

TEST_F(LoopDiskStorageTest, WritingPastTheSizeFailsWithEnospc) {
    const std::string path = allocate("full");
    ASSERT_FALSE(path.empty());
    const auto [written, err] = fill(path + "/big");
    EXPECT_EQ(err, ENOSPC) << std::strerror(err);
    EXPECT_GT(written, (kSizeMb - 6) << 20);
    EXPECT_LE(written, kSizeMb << 20);
    ASSERT_TRUE(storage_->release("full").ok());
    expect_gone("full");
}

TEST_F(LoopDiskStorageTest, VolumesAreIndependent) {
    const std::string a = allocate("a"), b = allocate("b");
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    EXPECT_NE(mount_at(a)->source, mount_at(b)->source);
    { std::ofstream(a + "/only-in-a") << "a"; }
    { std::ofstream(b + "/only-in-b") << "b"; }
    EXPECT_FALSE(fs::exists(b + "/only-in-a"));
    EXPECT_FALSE(fs::exists(a + "/only-in-b"));
    // Filling one leaves the other's space alone.
    EXPECT_EQ(fill(a + "/big").second, ENOSPC);
    struct statvfs vfs;
    ASSERT_EQ(::statvfs(b.c_str(), &vfs), 0);
    EXPECT_GT(static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize, (kSizeMb - 6) << 20);

    ASSERT_TRUE(storage_->release("a").ok());
    expect_gone("a");
    EXPECT_TRUE(fs::exists(b + "/only-in-b")) << "releasing a touched b";
    ASSERT_TRUE(storage_->release("b").ok());
    expect_gone("b");
}

TEST_F(LoopDiskStorageTest, ReleaseOfAnUnknownWorkerSucceedsAndReleaseIsIdempotent) {
    EXPECT_TRUE(storage_->release("never_allocated").ok());
    ASSERT_FALSE(allocate("twice").empty());
    EXPECT_TRUE(storage_->release("twice").ok());
    EXPECT_TRUE(storage_->release("twice").ok());
    expect_gone("twice");
}

TEST_F(LoopDiskStorageTest, ReleaseUnmountsAVolumeThatIsStillInUse) {
    const std::string path = allocate("busy");
    ASSERT_FALSE(path.empty());
    const int open_fd = ::open((path + "/held-open").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(open_fd, 0);
    auto released = storage_->release("busy");
    EXPECT_TRUE(released.ok()) << released.error();
    EXPECT_FALSE(mount_at(path));
    EXPECT_FALSE(fs::exists(storage_->image_path("busy")));
    ::close(open_fd);  // the last user: the lazily unmounted file system and its loop device go now
    for (int i = 0; i < 100 && !loops_backed_by(storage_->image_path("busy")).empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    expect_gone("busy");
}

TEST_F(LoopDiskStorageTest, InvalidRequestsFailWithoutTouchingOtherVolumes) {
    EXPECT_FALSE(storage_->allocate("../escape", kSizeMb).ok());
    EXPECT_FALSE(storage_->allocate("a-b", kSizeMb).ok());
    auto zero = storage_->allocate("zero", 0);
    EXPECT_FALSE(zero.ok());
    auto huge = storage_->allocate("huge", config_.max_size_mb + 1);
    ASSERT_FALSE(huge.ok());
    EXPECT_NE(huge.error().find("max_size_mb"), std::string::npos) << huge.error();
    EXPECT_FALSE(storage_->release("../escape").ok());

    const std::string path = allocate("dup");
    ASSERT_FALSE(path.empty());
    { std::ofstream(path + "/keep") << "keep"; }
    auto again = storage_->allocate("dup", kSizeMb);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().find("already exists"), std::string::npos) << again.error();
    EXPECT_TRUE(mount_at(path)) << "a failed allocation undid someone else's volume";
    EXPECT_TRUE(fs::exists(path + "/keep"));
    ASSERT_TRUE(storage_->release("dup").ok());
    expect_gone("dup");
    auto ids = storage_->list_volumes();
    ASSERT_TRUE(ids.ok()) << ids.error();
    EXPECT_TRUE(ids.value().empty());
}

TEST_F(LoopDiskStorageTest, AFailedMountUndoesEverything) {
    config_.mount.data = "no_such_ext4_option";  // the kernel refuses it: mount(2) fails with EINVAL
    storage_ = make_storage();
    auto v = storage_->allocate("undo", kSizeMb);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.error().find("mount"), std::string::npos) << v.error();
    EXPECT_NE(v.error().find("Invalid argument"), std::string::npos) << v.error();
    expect_gone("undo");
}

TEST_F(LoopDiskStorageTest, LeftoversOfACrashedRunAreListedAndReleased) {
    ASSERT_FALSE(allocate("crash1").empty());
    ASSERT_FALSE(allocate("crash2").empty());
    storage_.reset();  // the gateway dies: nothing is released

    // A crash between attaching and mounting, on a loop device without autoclear; its image has
    // been deleted too, so only /sys/block/loop*/loop/backing_file still names it.
    const std::string image3 = config_.image_dir + "/" + image_file_name(config_.instance, "crash3");
    {
        std::ofstream(image3).close();
        fs::resize_file(image3, kSizeMb << 20);
        const int file = ::open(image3.c_str(), O_RDWR | O_CLOEXEC);
        const int control = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        ASSERT_GE(file, 0);
        ASSERT_GE(control, 0);
        bool attached = false;
        for (int i = 0; i < 16 && !attached; ++i) {
            const int n = ::ioctl(control, LOOP_CTL_GET_FREE);
            ASSERT_GE(n, 0);
            const int dev = ::open(("/dev/loop" + std::to_string(n)).c_str(), O_RDWR | O_CLOEXEC);
            ASSERT_GE(dev, 0);
            attached = ::ioctl(dev, LOOP_SET_FD, file) == 0;
            ::close(dev);
        }
        ::close(control);
        ::close(file);
        ASSERT_TRUE(attached);
        fs::remove(image3);
        ASSERT_EQ(loops_backed_by(image3).size(), 1u);
        EXPECT_TRUE(loops_backed_by(image3)[0].backing.deleted);
    }
    // Only a mount point, and only an image, of two more workers; and another instance's volume.
    fs::create_directory(config_.mount_dir + "/" + mount_point_name(config_.instance, "crash4"));
    std::ofstream(config_.image_dir + "/" + image_file_name(config_.instance, "crash5")).close();
    const std::string other = config_.image_dir + "/" + image_file_name(config_.instance + "-x", "w1");
    std::ofstream(other).close();

    storage_ = make_storage();  // the next start
    auto ids = storage_->list_volumes();
    ASSERT_TRUE(ids.ok()) << ids.error();
    EXPECT_EQ(ids.value(), (std::vector<std::string>{"crash1", "crash2", "crash3", "crash4", "crash5"}));
    for (const auto& id : ids.value()) {
        auto st = storage_->release(id);
        EXPECT_TRUE(st.ok()) << st.error();
        expect_gone(id);
    }
    ids = storage_->list_volumes();
    ASSERT_TRUE(ids.ok());
    EXPECT_TRUE(ids.value().empty());
    EXPECT_TRUE(fs::exists(other)) << "another instance's volume was touched";
}

TEST_F(LoopDiskStorageTest, ParallelAllocationsAllSucceed) {
    constexpr int kWorkers = 8;
    std::vector<std::string> errors(kWorkers), paths(kWorkers);
    {
        std::vector<std::thread> threads;
        for (int i = 0; i < kWorkers; ++i)
            threads.emplace_back([&, i] {
                auto v = storage_->allocate("par" + std::to_string(i), kSizeMb);
                if (v.ok())
                    paths[i] = v.value().host_path;
                else
                    errors[i] = v.error();
            });
        for (auto& t : threads) t.join();
    }
    std::set<std::string> devices;
    for (int i = 0; i < kWorkers; ++i) {
        EXPECT_EQ(errors[i], "") << "worker " << i;
        if (paths[i].empty()) continue;
        const auto m = mount_at(paths[i]);
        ASSERT_TRUE(m) << paths[i];
        devices.insert(m->source);
    }
    EXPECT_EQ(devices.size(), static_cast<std::size_t>(kWorkers)) << "two volumes share a loop device";
    auto ids = storage_->list_volumes();
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(ids.value().size(), static_cast<std::size_t>(kWorkers));
    {
        std::vector<std::thread> threads;
        for (int i = 0; i < kWorkers; ++i)
            threads.emplace_back([&, i] {
                auto st = storage_->release("par" + std::to_string(i));
                if (!st.ok()) errors[i] = st.error();
            });
        for (auto& t : threads) t.join();
    }
    for (int i = 0; i < kWorkers; ++i) {
        EXPECT_EQ(errors[i], "") << "worker " << i;
        expect_gone("par" + std::to_string(i));
    }
}

TEST_F(LoopDiskStorageTest, MkfsAndTemplateMakeTheSameVolume) {
    for (FormatMethod method : {FormatMethod::mkfs, FormatMethod::template_copy}) {
        storage_ = make_storage(method);
        const std::string id = method == FormatMethod::mkfs ? "by_mkfs" : "by_template";
        const std::string path = allocate(id, 32);
        ASSERT_FALSE(path.empty());
        struct statvfs vfs;
        ASSERT_EQ(::statvfs(path.c_str(), &vfs), 0);
        EXPECT_GT(static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize, 30u << 20) << id;
        EXPECT_TRUE(fs::is_empty(path)) << id;
        ASSERT_TRUE(storage_->release(id).ok());
        expect_gone(id);
    }
}

TEST_F(LoopDiskStorageTest, NothingIsLeftBehind) {
    ASSERT_FALSE(allocate("last").empty());
    ASSERT_TRUE(storage_->release("last").ok());
    storage_.reset();
    // Only the directories and the template cache remain; no mount, no loop device, no volume image.
    EXPECT_TRUE(loops_backed_by(scratch_.root() + "/").empty());
    for (const auto& m : mounts()) EXPECT_NE(m.mount_point.rfind(scratch_.root() + "/", 0), 0u) << m.mount_point;
    EXPECT_TRUE(fs::is_empty(config_.mount_dir));
    for (const auto& e : fs::directory_iterator(config_.image_dir)) EXPECT_EQ(e.path().filename(), "templates");
}

}  // namespace
