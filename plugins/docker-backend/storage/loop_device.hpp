#pragma once
// Loop devices through the kernel API (linux/loop.h), not losetup: attach a backing file, find
// what is attached, detach.
#include <string>
#include <vector>

#include "code_interpreter/fd/unique_fd.hpp"
#include "code_interpreter/plugin/result.hpp"
#include "volume_names.hpp"

namespace ci::loopdisk {

using ci::fd::UniqueFd;

// Move-only owner of a loop device this process attached. Attached with autoclear, so the
// device detaches by itself when its last user (normally the mount) goes; until release() the
// owner also detaches it explicitly on destruction, which undoes a half-made volume.
class LoopDevice {
public:
    // Takes a free device (LOOP_CTL_GET_FREE) and binds `backing_fd` to it with LOOP_CONFIGURE
    // (autoclear, direct I/O), or LOOP_SET_FD + LOOP_SET_STATUS64 on kernels before 5.8. Another
    // process may take the same free device first (EBUSY): a few fresh attempts are made. Fails
    // with FailureKind::exhausted when the host has no loop device left to give.
    static ci::plugin::Result<LoopDevice> attach(int backing_fd, const std::string& backing_path);

    LoopDevice() = default;
    ~LoopDevice();
    LoopDevice(LoopDevice&& other) noexcept;
    LoopDevice& operator=(LoopDevice&& other) noexcept;
    LoopDevice(const LoopDevice&) = delete;
    LoopDevice& operator=(const LoopDevice&) = delete;

    const std::string& path() const { return path_; }  // /dev/loopN

    // Closes the device without detaching it: from now on autoclear owns its lifetime.
    void release();

private:
    void detach_now();
    UniqueFd fd_;
    std::string path_;
};

// A loop device that has a backing file now.
struct AttachedLoop {
    std::string device;   // /dev/loopN
    BackingFile backing;  // from /sys/block/loopN/loop/backing_file
};

// Every attached loop device, from `sys_block` (/sys/block). Devices that detach while being
// read are skipped.
ci::plugin::Result<std::vector<AttachedLoop>> list_attached_loops(const std::string& sys_block = "/sys/block");

// LOOP_CLR_FD on `loop.device`, if it is still backed by `loop.backing.path` once opened (an open
// device cannot autoclear, so it cannot be handed to someone else's file in between). Success when
// it was not attached. When the device is still in use elsewhere (a mount in another mount
// namespace), the kernel only marks it autoclear and it detaches when its last user goes.
ci::plugin::Status detach_loop(const AttachedLoop& loop, const std::string& sys_block = "/sys/block");

}  // namespace ci::loopdisk
