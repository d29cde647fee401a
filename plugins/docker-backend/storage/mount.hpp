#pragma once
// mount(2)/umount2(2) of a volume's file system, and what /proc/self/mountinfo says is mounted.
#include <string>
#include <vector>

#include "code_interpreter/plugin/result.hpp"
#include "storage_config.hpp"
#include "volume_names.hpp"

namespace ci::loopdisk {

// Move-only owner of a mount this process made: unmounted on destruction unless released, so a
// volume that fails half-way is undone.
class Mount {
public:
    // Mounts `device` (ext4) on `target` with options.flags (always nosuid,nodev) and options.data.
    static ci::plugin::Result<Mount> ext4(const std::string& device, const std::string& target,
                                          const MountOptions& options);

    Mount() = default;
    ~Mount();
    Mount(Mount&& other) noexcept;
    Mount& operator=(Mount&& other) noexcept;
    Mount(const Mount&) = delete;
    Mount& operator=(const Mount&) = delete;

    // Leaves the file system mounted for good.
    void release() { target_.clear(); }

private:
    void unmount_now();
    std::string target_;
};

// Unmounts everything mounted on `target` (mounts may be stacked): a normal unmount first, then a
// lazy one (MNT_DETACH) when the file system is busy. Success when nothing is mounted there or
// `target` does not exist.
ci::plugin::Status unmount_all(const std::string& target);

// Shuts down the ext4 file system mounted on `target` without writing back what is still cached
// (EXT4_IOC_SHUTDOWN, NOLOGFLUSH): every later I/O on it fails, and unmounting it no longer
// flushes data that is about to be deleted anyway. Does nothing (success) when no ext4 is mounted
// on `target`; returns false-y Status only for an ioctl error other than "not supported".
ci::plugin::Status shut_down_ext4(const std::string& target);

ci::plugin::Result<std::vector<MountEntry>> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

}  // namespace ci::loopdisk
