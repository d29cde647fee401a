#include "mount.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "code_interpreter/fd/unique_fd.hpp"

namespace ci::loopdisk {
namespace {

using ci::plugin::Result;
using ci::plugin::Status;

constexpr int kMaxStackedMounts = 16;

// From fs/ext4/ext4.h (not in the uapi headers of every distribution).
constexpr unsigned long kExt4IocShutdown = _IOR('X', 125, std::uint32_t);
constexpr std::uint32_t kExt4GoingFlagsNoLogFlush = 0x2;

}  // namespace

Result<Mount> Mount::ext4(const std::string& device, const std::string& target, const MountOptions& options) {
    const unsigned long flags = options.flags | MS_NOSUID | MS_NODEV;
    if (::mount(device.c_str(), target.c_str(), "ext4", flags, options.data.empty() ? nullptr : options.data.c_str()) != 0)
        return Result<Mount>::failure("mounting " + device + " on " + target + ": " + std::strerror(errno));
    Mount m;
    m.target_ = target;
    return Result<Mount>::success(std::move(m));
}

Mount::~Mount() { unmount_now(); }

Mount::Mount(Mount&& other) noexcept : target_(std::exchange(other.target_, {})) {}

Mount& Mount::operator=(Mount&& other) noexcept {
    if (this != &other) {
        unmount_now();
        target_ = std::exchange(other.target_, {});
    }
    return *this;
}

void Mount::unmount_now() {
    if (target_.empty()) return;
    if (::umount2(target_.c_str(), UMOUNT_NOFOLLOW) != 0 && errno == EBUSY)
        ::umount2(target_.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH);
    target_.clear();
}

Status unmount_all(const std::string& target) {
    for (int i = 0; i < kMaxStackedMounts; ++i) {
        if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
        if (errno == EINVAL || errno == ENOENT) return Status::success();  // nothing (more) mounted there
        if (errno != EBUSY) return Status::failure("unmounting " + target + ": " + std::strerror(errno));
        // Still in use (a process with a cwd or open file inside): detach it from the tree now; the
        // file system goes, and the loop device with it, when its last user does.
        if (::umount2(target.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
            return Status::failure("lazily unmounting " + target + ": " + std::strerror(errno));
    }
    return Status::failure("unmounting " + target + ": still mounted after " + std::to_string(kMaxStackedMounts) +
                           " unmounts");
}

Status shut_down_ext4(const std::string& target) {
    const ci::fd::UniqueFd dir(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return Status::success();  // nothing there
    const int fd = dir.get();
    struct statfs fs;
    struct stat here, parent;
    const std::string up = target + "/..";
    // Only a file system mounted right there: never the one the mount point itself lives on.
    const bool ours = ::fstatfs(fd, &fs) == 0 && fs.f_type == EXT4_SUPER_MAGIC && ::fstat(fd, &here) == 0 &&
                      ::stat(up.c_str(), &parent) == 0 && here.st_dev != parent.st_dev;
    std::uint32_t flags = kExt4GoingFlagsNoLogFlush;
    const int rc = ours ? ::ioctl(fd, kExt4IocShutdown, &flags) : 0;
    const int err = errno;
    if (rc != 0 && err != ENOTTY && err != EOPNOTSUPP && err != EINVAL)
        return Status::failure("shutting down the file system on " + target + ": " + std::strerror(err));
    return Status::success();
}

Result<std::vector<MountEntry>> read_mountinfo(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Result<std::vector<MountEntry>>::failure("reading " + path + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return Result<std::vector<MountEntry>>::success(parse_mountinfo(text.str()));
}

}  // namespace ci::loopdisk
