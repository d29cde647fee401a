#include "loop_device.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

namespace ci::loopdisk {
namespace {

using ci::plugin::FailureKind;
using ci::plugin::Result;
using ci::plugin::Status;

constexpr int kAttachAttempts = 16;
constexpr unsigned kLoopMajor = 7;  // fixed block major of the loop driver

std::string errno_text(int err) { return std::strerror(err); }

void fill_info(loop_info64& info, const std::string& backing_path, std::uint32_t flags) {
    std::memset(&info, 0, sizeof(info));
    info.lo_flags = flags;
    // Only informative (losetup shows it); sysfs backing_file comes from the file itself.
    std::strncpy(reinterpret_cast<char*>(info.lo_file_name), backing_path.c_str(), LO_NAME_SIZE - 1);
}

enum class Bind { ok, busy, failed };

// The pre-5.8 way: two ioctls, so a failure between them must undo the first.
Bind bind_legacy(int dev_fd, int backing_fd, const std::string& backing_path, std::string& error) {
    if (::ioctl(dev_fd, LOOP_SET_FD, backing_fd) != 0) {
        if (errno == EBUSY) return Bind::busy;
        error = "LOOP_SET_FD: " + errno_text(errno);
        return Bind::failed;
    }
    loop_info64 info;
    fill_info(info, backing_path, LO_FLAGS_AUTOCLEAR);
    if (::ioctl(dev_fd, LOOP_SET_STATUS64, &info) != 0) {
        error = "LOOP_SET_STATUS64: " + errno_text(errno);
        ::ioctl(dev_fd, LOOP_CLR_FD, 0);
        return Bind::failed;
    }
    (void)::ioctl(dev_fd, LOOP_SET_DIRECT_IO, 1UL);  // best effort, as with LOOP_CONFIGURE
    return Bind::ok;
}

Bind bind(int dev_fd, int backing_fd, const std::string& backing_path, std::string& error) {
    loop_config config;
    std::memset(&config, 0, sizeof(config));
    config.fd = static_cast<std::uint32_t>(backing_fd);
    // Direct I/O keeps the image's blocks out of the host page cache: the volume's data is cached
    // once, by the ext4 inside, and charged to the worker that wrote it, not twice. The kernel
    // drops the flag by itself where the backing file system cannot do direct I/O.
    fill_info(config.info, backing_path, LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO);
    if (::ioctl(dev_fd, LOOP_CONFIGURE, &config) == 0) return Bind::ok;
    if (errno == EBUSY) return Bind::busy;
    if (errno == ENOTTY || errno == EINVAL) return bind_legacy(dev_fd, backing_fd, backing_path, error);
    error = "LOOP_CONFIGURE: " + errno_text(errno);
    return Bind::failed;
}

bool read_small_file(const std::string& path, std::string& out) {
    std::ifstream in(path);
    if (!in) return false;
    std::ostringstream s;
    s << in.rdbuf();
    out = s.str();
    return !in.bad();
}

}  // namespace

Result<LoopDevice> LoopDevice::attach(int backing_fd, const std::string& backing_path) {
    UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!control) return Result<LoopDevice>::failure("opening /dev/loop-control: " + errno_text(errno));

    std::string last_busy;
    for (int attempt = 0; attempt < kAttachAttempts; ++attempt) {
        // The kernel has no device to give (max_loop, minors, memory): the host is out of them.
        const int number = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
        if (number < 0)
            return Result<LoopDevice>::failure("no free loop device: LOOP_CTL_GET_FREE: " + errno_text(errno),
                                               FailureKind::exhausted);
        const std::string path = "/dev/loop" + std::to_string(number);
        UniqueFd dev(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        if (!dev && errno == ENOENT) {
            // Inside a container /dev may be a tmpfs that lacks nodes for devices the kernel made
            // after it was populated; without the node this host has no more usable loop devices.
            if (::mknod(path.c_str(), S_IFBLK | 0600, makedev(kLoopMajor, static_cast<unsigned>(number))) != 0 &&
                errno != EEXIST)
                return Result<LoopDevice>::failure("no free loop device: " + path + " has no node and making it failed: " +
                                                       errno_text(errno),
                                                   FailureKind::exhausted);
            dev = UniqueFd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        }
        if (!dev) {
            // Removed by someone else (LOOP_CTL_REMOVE) between GET_FREE and open: take another.
            if (errno == ENXIO || errno == ENOENT) {
                last_busy = path + " vanished";
                continue;
            }
            return Result<LoopDevice>::failure("opening " + path + ": " + errno_text(errno));
        }
        std::string error;
        switch (bind(dev.get(), backing_fd, backing_path, error)) {
            case Bind::ok: {
                LoopDevice device;
                device.fd_ = std::move(dev);
                device.path_ = path;
                return Result<LoopDevice>::success(std::move(device));
            }
            case Bind::busy: last_busy = path + " was taken by another process"; continue;
            case Bind::failed: return Result<LoopDevice>::failure("attaching " + path + ": " + error);
        }
    }
    return Result<LoopDevice>::failure("no free loop device after " + std::to_string(kAttachAttempts) +
                                           " attempts (last: " + last_busy + ")",
                                       FailureKind::exhausted);
}

LoopDevice::~LoopDevice() { detach_now(); }

LoopDevice::LoopDevice(LoopDevice&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::exchange(other.path_, {})) {}

LoopDevice& LoopDevice::operator=(LoopDevice&& other) noexcept {
    if (this != &other) {
        detach_now();
        fd_ = std::move(other.fd_);
        path_ = std::exchange(other.path_, {});
    }
    return *this;
}

void LoopDevice::release() { fd_.reset(); }

void LoopDevice::detach_now() {
    if (fd_) ::ioctl(fd_.get(), LOOP_CLR_FD, 0);
    fd_.reset();
}

Result<std::vector<AttachedLoop>> list_attached_loops(const std::string& sys_block) {
    using R = Result<std::vector<AttachedLoop>>;
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(sys_block.c_str()), ::closedir);
    if (!dir) return R::failure("reading " + sys_block + ": " + errno_text(errno));
    std::vector<AttachedLoop> out;
    while (const dirent* entry = ::readdir(dir.get())) {
        const std::string name = entry->d_name;
        if (name.rfind("loop", 0) != 0 || name.size() == 4 ||
            name.find_first_not_of("0123456789", 4) != std::string::npos)
            continue;
        std::string text;
        // Missing while the device has no backing file.
        if (!read_small_file(sys_block + "/" + name + "/loop/backing_file", text)) continue;
        out.push_back(AttachedLoop{"/dev/" + name, parse_backing_file(text)});
    }
    return R::success(std::move(out));
}

Status detach_loop(const AttachedLoop& loop, const std::string& sys_block) {
    UniqueFd fd(::open(loop.device.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT || errno == ENXIO) return Status::success();
        return Status::failure("opening " + loop.device + ": " + errno_text(errno));
    }
    std::string text;
    const std::string name = loop.device.substr(loop.device.rfind('/') + 1);
    if (!read_small_file(sys_block + "/" + name + "/loop/backing_file", text) ||
        parse_backing_file(text).path != loop.backing.path)
        return Status::success();  // detached meanwhile, maybe reused for another file: not ours
    if (::ioctl(fd.get(), LOOP_CLR_FD, 0) != 0 && errno != ENXIO)
        return Status::failure("LOOP_CLR_FD on " + loop.device + ": " + errno_text(errno));
    return Status::success();
}

}  // namespace ci::loopdisk
