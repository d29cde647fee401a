#pragma once
// LoopDiskStorage: each worker's workspace is a sparse ext4 image file, attached to a loop device
// through the kernel API and mounted nosuid,nodev on the host; the isolation backend binds the
// mount point into the worker, which therefore never needs CAP_SYS_ADMIN.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "code_interpreter/plugin/context.hpp"
#include "code_interpreter/plugin/storage_provider.hpp"
#include "ext4_format.hpp"
#include "storage_config.hpp"

namespace ci::loopdisk {

// What the sparse volume images (*.img) directly in `dir` may still grow by: each one's size less
// the blocks it holds now. Every volume was promised its whole size.
ci::plugin::Result<std::uint64_t> promised_bytes(const std::string& dir);

// Fails (FailureKind::exhausted) when the file system holding `dir` has less available (statvfs
// f_bavail * f_frsize) than promised_bytes(dir) + size_mb + min_free_mb. min_free_mb 0: always
// succeeds.
ci::plugin::Status check_free_space(const std::string& dir, std::uint64_t size_mb, std::uint64_t min_free_mb);

// Empty when neither owner_uid nor owner_gid belongs to a host account (through NSS), else which
// account each is: a host user with the volumes' uid could reach every user's files.
std::string host_owner_conflicts(const StorageConfig& config);

class LoopDiskStorage final : public ci::plugin::StorageProvider {
public:
    using Log = std::function<void(ci::plugin::LogLevel, const std::string&)>;

    // Checks the host can make volumes and creates image_dir and mount_dir (mode 0700: the mount
    // points hold every user's files, and host uid owner_uid must not reach them). Throws
    // std::runtime_error naming what is missing or wrong: root, /dev/loop-control, mkfs.ext4, a
    // directory, an owner id that a host account has.
    // Touches no existing volume: after a restart the core adopts live workers' volumes or
    // releases them (list_volumes, release); neither this nor the destructor unmounts anything.
    LoopDiskStorage(StorageConfig config, Log log, FormatMethod method = FormatMethod::template_copy);

    ci::plugin::Result<ci::plugin::Volume> allocate(const std::string& worker_id, std::uint64_t size_mb) override;
    ci::plugin::Status release(const std::string& worker_id) override;
    ci::plugin::Result<std::vector<std::string>> list_volumes() override;

    std::string image_path(const std::string& worker_id) const;
    std::string mount_path(const std::string& worker_id) const;
    const StorageConfig& config() const { return config_; }

private:
    // Serialises allocate/release of one worker id; different ids proceed in parallel.
    class IdLock {
    public:
        IdLock(LoopDiskStorage& owner, const std::string& id);
        ~IdLock();
        IdLock(const IdLock&) = delete;
        IdLock& operator=(const IdLock&) = delete;

    private:
        LoopDiskStorage& owner_;
        std::string id_;
    };

    ci::plugin::Status detach_loops_of(const std::string& worker_id, const std::string& image);
    void log(ci::plugin::LogLevel level, const std::string& message) const;

    StorageConfig config_;
    Log log_;
    Ext4Formatter formatter_;

    std::mutex space_mu_;  // held from the free-space check until the new image has its full size

    std::mutex busy_mu_;
    std::condition_variable busy_cv_;
    std::set<std::string> busy_;
};

}  // namespace ci::loopdisk
