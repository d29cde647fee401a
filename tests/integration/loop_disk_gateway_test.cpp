// The loop-disk storage plugin through the whole stack: a real gateway loads the plugin library,
// every worker's home is its own ext4 volume of worker.disk_mb (500 MB by default), and stopping
// the gateway leaves no mount, loop device or image behind.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "loop_device.hpp"
#include "mount.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

namespace fs = std::filesystem;

const char* const kUser = "33333333-3333-4333-8333-333333333333";

class LoopDiskGatewayTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        char pattern[] = "/tmp/ci-loop-disk-gw-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        root_ = pattern;
        TestGatewayOptions options;
        options.min_idle = 1;
        options.max_total = 2;
        options.timeout_s = 60;  // filling 500 MB takes a few seconds
        options.loop_disk = false;  // this suite configures its own, with its own directories
        options.extra_toml = "[plugins.loop-disk]\npath = \"" CI_BUILD_DIR "/plugins/libci_loop_disk_storage.so\"\n"
                             "image_dir = \"" + root_ + "/images\"\nmount_dir = \"" + root_ + "/mounts\"\n"
                             "instance = \"t" + std::to_string(::getpid()) + "-ldgw\"\n";
        gateway_ = std::make_unique<TestGateway>("ldgw", options);
    }

    static void TearDownTestSuite() {
        const std::string instance = gateway_ ? gateway_->instance() : "";
        gateway_.reset();  // stops: every worker and its volume must go
        EXPECT_EQ(leftovers(), "") << "left behind by the gateway";
        force_clean();
        if (!instance.empty()) {
            EXPECT_EQ(count_containers(instance), 0) << "containers of " << instance << " left behind";
            std::error_code ec;
            fs::remove(run_dir_of(instance), ec);  // the backend's per-instance directory, empty by now
        }
    }

    // Mounts, loop devices and volume images under root_, one per line ("" when none).
    static std::string leftovers() {
        std::ostringstream out;
        if (auto mounts = loopdisk::read_mountinfo(); mounts.ok())
            for (const auto& m : mounts.value())
                if (m.mount_point.rfind(root_ + "/", 0) == 0) out << "mount " << m.mount_point << "\n";
        if (auto loops = loopdisk::list_attached_loops(); loops.ok())
            for (const auto& l : loops.value())
                if (l.backing.path.rfind(root_ + "/", 0) == 0) out << "loop " << l.device << " " << l.backing.path << "\n";
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(root_ + "/images", ec))
            if (e.path().extension() == ".img") out << "image " << e.path().string() << "\n";
        for (const auto& e : fs::directory_iterator(root_ + "/mounts", ec)) out << "mount point " << e.path().string() << "\n";
        return out.str();
    }

    // Whatever happened, leave nothing: lazy unmounts, detaches, then the tree.
    static void force_clean() {
        if (root_.empty()) return;
        if (auto mounts = loopdisk::read_mountinfo(); mounts.ok())
            for (const auto& m : mounts.value())
                if (m.mount_point.rfind(root_ + "/", 0) == 0) ::umount2(m.mount_point.c_str(), MNT_DETACH);
        if (auto loops = loopdisk::list_attached_loops(); loops.ok())
            for (const auto& l : loops.value())
                if (l.backing.path.rfind(root_ + "/", 0) == 0) (void)loopdisk::detach_loop(l);
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    static std::string run(const std::string& code) {
        auto r = execute_as(gateway_->url(""), kUser, code);
        EXPECT_EQ(r.status, 200) << r.body;
        auto j = body_of(r);
        return j.is_object() && j["result_text"].is_string() ? j["result_text"].get<std::string>() : r.body;
    }

    static inline std::string root_;
    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(LoopDiskGatewayTest, TheHomeIsAPrivateExt4VolumeOfDiskMb) {
    const std::string out = run(
        "import os\n"
        "st = os.statvfs('.')\n"
        "line = [l for l in open('/proc/self/mountinfo') if ' /sandbox ' in l][0].split()\n"
        "print(os.getcwd(), st.f_blocks * st.f_frsize, line[5], line[line.index('-') + 1], [n for n in os.listdir('.') if n != '.ipython'],\n"
        "      oct(os.stat('.').st_mode & 0o777), os.stat('.').st_uid == os.getuid())");
    std::istringstream in(out);
    std::string cwd, options, fs_type;
    std::uint64_t bytes = 0;
    in >> cwd >> bytes >> options >> fs_type;
    EXPECT_EQ(cwd, "/sandbox") << out;
    EXPECT_GT(bytes, 480ull << 20) << out;
    EXPECT_LE(bytes, 500ull << 20) << out;
    EXPECT_NE(("," + options + ",").find(",nosuid,"), std::string::npos) << out;
    EXPECT_NE(("," + options + ",").find(",nodev,"), std::string::npos) << out;
    EXPECT_EQ(fs_type, "ext4") << out;
    // Empty but for what IPython made at start, private, the kernel user's.
    EXPECT_NE(out.find("[] 0o700 True"), std::string::npos) << out;
}

TEST_F(LoopDiskGatewayTest, WritingPastTheDiskSizeGetsNoSpaceLeft) {
    const std::string out = run(
        "import errno\n"
        "written = 0\n"
        "try:\n"
        "    with open('big', 'wb') as f:\n"
        "        block = b'x' * (1 << 20)\n"
        "        for _ in range(600):\n"
        "            f.write(block)\n"
        "            written += 1\n"
        "except OSError as e:\n"
        "    print(errno.errorcode[e.errno], e.strerror, written)\n"
        "else:\n"
        "    print('no error', written)\n");
    EXPECT_EQ(out.rfind("ENOSPC No space left on device", 0), 0u) << out;
    // The space is back once the file is gone, and the session is still usable.
    EXPECT_EQ(run("import os; os.remove('big'); print('big' in os.listdir('.'), os.statvfs('.').f_bavail > 400 << 8)"),
              "False True\n");
}

}  // namespace
}  // namespace ci::test
