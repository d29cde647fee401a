#include "loop_disk_storage.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "code_interpreter/host_failure/host_failure.hpp"
#include "code_interpreter/fd/unique_fd.hpp"
#include "loop_device.hpp"
#include "mount.hpp"
#include "volume_names.hpp"

namespace ci::loopdisk {

using ci::fd::UniqueFd;

namespace {

using ci::plugin::FailureKind;
using ci::plugin::LogLevel;
using ci::plugin::Result;
using ci::plugin::Status;
using ci::plugin::Volume;
using Clock = std::chrono::steady_clock;

// How long release waits for a loop device, marked autoclear, to let go of a deleted image.
constexpr auto kDetachWait = std::chrono::seconds(2);

std::string errno_text(int err) { return std::strerror(err); }

long ms_since(Clock::time_point t) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// mkdir -p: missing parents 0755, the last component `mode`; existing ones are left alone.
Status ensure_directory(const std::string& path, mode_t mode) {
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        const std::string parent = path.substr(0, slash);
        if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
            return Status::failure("making " + parent + ": " + errno_text(errno));
    }
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
        return Status::failure("making " + path + ": " + errno_text(errno));
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status::failure(path + " is not a directory");
    return Status::success();
}

std::string real_path(const std::string& path) {
    std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
    if (!resolved) throw std::runtime_error("loop-disk: resolving " + path + ": " + errno_text(errno));
    return resolved.get();
}

int remove_entry(const char* path, const struct stat*, int type, FTW*) {
    return (type == FTW_DP ? ::rmdir(path) : ::unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

// rmdir, or rm -r when something was written into the directory while nothing was mounted on it;
// never follows symlinks nor crosses into another file system.
Status remove_mount_point(const std::string& path) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return Status::success();
    if (errno != ENOTEMPTY && errno != EEXIST) return Status::failure("removing " + path + ": " + errno_text(errno));
    if (::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 && errno != ENOENT)
        return Status::failure("removing " + path + " and its contents: " + errno_text(errno));
    return Status::success();
}

// Unlinks a path when dropped, unless released: undoes a half-made volume.
class PathRemover {
public:
    PathRemover(std::string path, bool directory) : path_(std::move(path)), directory_(directory) {}
    ~PathRemover() {
        if (path_.empty()) return;
        if (directory_)
            ::rmdir(path_.c_str());
        else
            ::unlink(path_.c_str());
    }
    PathRemover(const PathRemover&) = delete;
    PathRemover& operator=(const PathRemover&) = delete;
    void release() { path_.clear(); }

private:
    std::string path_;
    bool directory_;
};

// Adds to `ids` the worker of every entry of `dir` that `worker_of` recognises. A missing
// directory holds nothing.
template <class WorkerOf>
Status scan_directory(const std::string& dir, WorkerOf worker_of, std::set<std::string>& ids) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return errno == ENOENT ? Status::success() : Status::failure("reading " + dir + ": " + errno_text(errno));
    while (const dirent* entry = ::readdir(d.get()))
        if (auto id = worker_of(entry->d_name)) ids.insert(*id);
    return Status::success();
}

// getpwuid_r / getgrgid_r through `lookup(buffer, size)`, with a buffer grown while it answers
// ERANGE; the entry's name, "" when there is none.
template <class Lookup>
std::string account_name(Lookup lookup) {
    std::vector<char> buffer(1024);
    std::string name;
    while (lookup(buffer.data(), buffer.size(), name) == ERANGE && buffer.size() < (1u << 20))
        buffer.resize(buffer.size() * 2);
    return name;
}

// Throws std::runtime_error naming what this host lacks; makes the directories and resolves them,
// since sysfs and mountinfo show resolved paths and those are compared with ours.
StorageConfig prepare_host(StorageConfig config) {
    if (::geteuid() != 0)
        throw std::runtime_error("loop-disk: the gateway must run as root to attach loop devices and mount volumes");
    if (const std::string conflicts = host_owner_conflicts(config); !conflicts.empty())
        throw std::runtime_error("loop-disk: the volumes' owner must be no host account (a host user sharing its id "
                                 "could read and change every user's files): " +
                                 conflicts + "; set the image's sandbox ids (docker/Dockerfile) here");
    UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!control)
        throw std::runtime_error("loop-disk: cannot open /dev/loop-control: " + errno_text(errno) +
                                 " (is the loop module loaded? modprobe loop)");
    if (!find_mkfs_ext4()) throw std::runtime_error("loop-disk: mkfs.ext4 not found (install e2fsprogs)");
    for (auto* dir : {&config.image_dir, &config.mount_dir}) {
        if (auto st = ensure_directory(*dir, 0700); !st.ok()) throw std::runtime_error("loop-disk: " + st.error());
        *dir = real_path(*dir);
        if (dir->find_first_of(":,\n\r") != std::string::npos)
            throw std::runtime_error("loop-disk: " + *dir + " must not hold ':' ',' or a line break");
    }
    if (config.image_dir == config.mount_dir)
        throw std::runtime_error("loop-disk: image_dir and mount_dir are the same directory " + config.image_dir);
    return config;
}

std::string mkfs_or_throw() {
    auto mkfs = find_mkfs_ext4();
    if (!mkfs) throw std::runtime_error("loop-disk: mkfs.ext4 not found (install e2fsprogs)");
    return *mkfs;
}

}  // namespace

std::string host_owner_conflicts(const StorageConfig& config) {
    const std::string user_name = account_name([&](char* buffer, std::size_t size, std::string& name) {
        passwd entry{};
        passwd* found = nullptr;
        const int rc = ::getpwuid_r(config.owner_uid, &entry, buffer, size, &found);
        if (rc == 0 && found) name = found->pw_name;
        return rc;
    });
    const std::string group_name = account_name([&](char* buffer, std::size_t size, std::string& name) {
        struct group entry {};
        struct group* found = nullptr;
        const int rc = ::getgrgid_r(config.owner_gid, &entry, buffer, size, &found);
        if (rc == 0 && found) name = found->gr_name;
        return rc;
    });
    std::string conflicts;
    if (!user_name.empty())
        conflicts = "owner_uid " + std::to_string(config.owner_uid) + " is the host user '" + user_name + "'";
    if (!group_name.empty())
        conflicts += (conflicts.empty() ? "" : "; ") + std::string("owner_gid ") + std::to_string(config.owner_gid) +
                     " is the host group '" + group_name + "'";
    return conflicts;
}

Result<std::uint64_t> promised_bytes(const std::string& dir) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return Result<std::uint64_t>::failure("reading " + dir + ": " + errno_text(errno));
    std::uint64_t total = 0;
    while (const dirent* entry = ::readdir(d.get())) {
        const std::string_view name = entry->d_name;
        if (name.size() <= 4 || name.substr(name.size() - 4) != ".img") continue;
        struct stat st;
        if (::fstatat(::dirfd(d.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;  // gone meanwhile, or not an image
        const auto size = static_cast<std::uint64_t>(st.st_size);
        const auto held = static_cast<std::uint64_t>(st.st_blocks) * 512;
        if (size > held) total += size - held;
    }
    return Result<std::uint64_t>::success(total);
}

Status check_free_space(const std::string& dir, std::uint64_t size_mb, std::uint64_t min_free_mb) {
    if (min_free_mb == 0) return Status::success();
    struct statvfs fs;
    if (::statvfs(dir.c_str(), &fs) != 0)
        return Status::failure("statvfs " + dir + ": " + errno_text(errno));
    auto promised = promised_bytes(dir);
    if (!promised.ok()) return Status::failure(promised.error());
    const std::uint64_t available_mb = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize >> 20;
    // Rounded up: a volume that has not grown yet by less than 1 MB still counts.
    const std::uint64_t promised_mb = (promised.value() + (1u << 20) - 1) >> 20;
    const std::uint64_t needed_mb = promised_mb + size_mb + min_free_mb;
    if (available_mb >= needed_mb) return Status::success();
    return Status::failure("host disk nearly full: " + std::to_string(available_mb) + " MB available for " + dir +
                               ", a " + std::to_string(size_mb) + " MB volume needs " + std::to_string(needed_mb) +
                               " MB (its size plus min_free_mb " + std::to_string(min_free_mb) + " plus " +
                               std::to_string(promised_mb) + " MB the volumes there may still grow by)",
                           FailureKind::exhausted);
}

LoopDiskStorage::IdLock::IdLock(LoopDiskStorage& owner, const std::string& id) : owner_(owner), id_(id) {
    std::unique_lock lock(owner_.busy_mu_);
    owner_.busy_cv_.wait(lock, [&] { return !owner_.busy_.count(id_); });
    owner_.busy_.insert(id_);
}

LoopDiskStorage::IdLock::~IdLock() {
    {
        std::lock_guard lock(owner_.busy_mu_);
        owner_.busy_.erase(id_);
    }
    owner_.busy_cv_.notify_all();
}

LoopDiskStorage::LoopDiskStorage(StorageConfig config, Log log, FormatMethod method)
    : config_(prepare_host(std::move(config))),
      log_(std::move(log)),
      formatter_(method, mkfs_or_throw(), config_.image_dir + "/templates") {
    struct stat st;
    if (::stat(config_.mount_dir.c_str(), &st) == 0 && (st.st_mode & 0077) != 0)
        this->log(LogLevel::warn, "loop-disk: " + config_.mount_dir +
                                      " is reachable by users other than root; mode 0700 keeps host users out of the volumes");
}

std::string LoopDiskStorage::image_path(const std::string& worker_id) const {
    return config_.image_dir + "/" + image_file_name(config_.instance, worker_id);
}

std::string LoopDiskStorage::mount_path(const std::string& worker_id) const {
    return config_.mount_dir + "/" + mount_point_name(config_.instance, worker_id);
}

void LoopDiskStorage::log(LogLevel level, const std::string& message) const {
    if (log_) log_(level, message);
}

Result<Volume> LoopDiskStorage::allocate(const std::string& worker_id, std::uint64_t size_mb) {
    if (!is_valid_worker_id(worker_id))
        return Result<Volume>::failure("allocate: worker id '" + worker_id + "' is not 1 to 64 characters of [A-Za-z0-9_]");
    const auto fail = [&](const std::string& step, const std::string& why, FailureKind kind = FailureKind::other) {
        return host_failure::failure<Result<Volume>>("allocate " + worker_id + ": " + step + ": " + why, kind);
    };
    if (size_mb < 1 || size_mb > config_.max_size_mb)
        return fail("size", std::to_string(size_mb) + " MB is outside 1.." + std::to_string(config_.max_size_mb) +
                                " (max_size_mb)");
    IdLock lock(*this, worker_id);
    const auto started = Clock::now();
    const std::string image = image_path(worker_id);
    const std::string target = mount_path(worker_id);
    // Recreated if removed while running (e.g. /run cleaned).
    for (const auto* dir : {&config_.image_dir, &config_.mount_dir})
        if (auto st = ensure_directory(*dir, 0700); !st.ok()) return fail("directories", st.error());
    // The owners below are destroyed in reverse order on any early return: unmount, detach the
    // loop device, remove the mount point, delete the image.
    std::unique_lock space_lock(space_mu_);
    // The images are sparse: refuse now rather than let them fill the host's disk later. Held until
    // the new image has its size, which the next allocation's check then counts.
    if (auto st = check_free_space(config_.image_dir, size_mb, config_.min_free_mb); !st.ok())
        return Result<Volume>::failure("allocate " + worker_id + ": " + st.error(), st.kind());
    UniqueFd image_fd(::open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!image_fd)
        return fail("creating " + image, errno == EEXIST ? "it already exists (a leftover: release it first)"
                                                         : errno_text(errno));
    PathRemover image_owner(image, false);
    if (::ftruncate(image_fd.get(), static_cast<off_t>(size_mb << 20)) != 0)
        return fail("sizing " + image, errno_text(errno));
    space_lock.unlock();
    if (auto st = formatter_.format(image_fd.get(), image, size_mb); !st.ok()) return fail("formatting", st.error());
    const long format_ms = ms_since(started);

    if (::mkdir(target.c_str(), 0700) != 0)
        return fail("making the mount point " + target,
                    errno == EEXIST ? "it already exists (a leftover: release it first)" : errno_text(errno));
    PathRemover mount_point_owner(target, true);

    auto loop = LoopDevice::attach(image_fd.get(), image);
    if (!loop.ok()) return fail("loop device", loop.error(), loop.kind());
    auto mounted = Mount::ext4(loop.value().path(), target, config_.mount);
    if (!mounted.ok()) return fail("mount", mounted.error());

    // The volume's root becomes the user's home: theirs alone, and empty.
    UniqueFd root(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root) return fail("opening " + target, errno_text(errno));
    if (::fchown(root.get(), config_.owner_uid, config_.owner_gid) != 0)
        return fail("chown " + target + " to " + std::to_string(config_.owner_uid) + ":" +
                        std::to_string(config_.owner_gid),
                    errno_text(errno));
    if (::fchmod(root.get(), 0700) != 0) return fail("chmod 0700 " + target, errno_text(errno));
    if (::unlinkat(root.get(), "lost+found", AT_REMOVEDIR) != 0 && errno != ENOENT)
        return fail("removing lost+found", errno_text(errno));

    // Done: the mount now holds the only reference to the loop device, which detaches itself
    // (autoclear) when the volume is unmounted.
    mounted.value().release();
    loop.value().release();
    mount_point_owner.release();
    image_owner.release();
    log(LogLevel::debug, "loop-disk: volume of worker " + worker_id + " (" + std::to_string(size_mb) + " MB) on " +
                             loop.value().path() + " at " + target + " in " + std::to_string(ms_since(started)) +
                             " ms (format " + std::to_string(format_ms) + " ms)");
    return Result<Volume>::success(Volume{worker_id, target});
}

Status LoopDiskStorage::release(const std::string& worker_id) {
    if (!is_valid_worker_id(worker_id))
        return Status::failure("release: worker id '" + worker_id + "' is not 1 to 64 characters of [A-Za-z0-9_]");
    IdLock lock(*this, worker_id);
    const auto started = Clock::now();
    const std::string image = image_path(worker_id);
    const std::string target = mount_path(worker_id);
    const auto fail = [&](const std::string& why) { return host_failure::failure<Status>("release " + worker_id + ": " + why); };

    // The volume is deleted next: do not make the unmount write back what the user left cached
    // (hundreds of ms and as many MB of disk writes for a full volume).
    if (auto st = shut_down_ext4(target); !st.ok())
        log(LogLevel::warn, "loop-disk: " + st.error() + "; unmounting with write-back");
    if (auto st = unmount_all(target); !st.ok()) return fail(st.error());
    if (auto st = remove_mount_point(target); !st.ok()) return fail(st.error());
    if (auto st = detach_loops_of(worker_id, image); !st.ok()) return fail(st.error());
    if (::unlink(image.c_str()) != 0) {
        if (errno != ENOENT) return fail("deleting " + image + ": " + errno_text(errno));
    } else {
        log(LogLevel::debug, "loop-disk: released the volume of worker " + worker_id + " in " +
                                 std::to_string(ms_since(started)) + " ms");
    }
    return Status::success();
}

// Normally the unmount has already detached the device (autoclear). This catches an image that
// was attached but never mounted (a crash in between), and one still held by a mount elsewhere.
Status LoopDiskStorage::detach_loops_of(const std::string& worker_id, const std::string& image) {
    const auto deadline = Clock::now() + kDetachWait;
    bool asked = false;
    while (true) {
        auto loops = list_attached_loops();
        if (!loops.ok()) return Status::failure(loops.error());
        std::vector<AttachedLoop> ours;
        for (auto& l : loops.value())
            if (l.backing.path == image) ours.push_back(std::move(l));
        if (ours.empty()) return Status::success();
        if (!asked) {
            for (const auto& l : ours)
                if (auto st = detach_loop(l); !st.ok()) return st;
            asked = true;
            continue;
        }
        if (Clock::now() >= deadline) {
            // Still open elsewhere, e.g. the file system is mounted in another mount namespace:
            // it is marked autoclear and goes with its last user. Not worth failing the release.
            log(LogLevel::warn, "loop-disk: " + ours.front().device + " of worker " + worker_id +
                                    " is still in use elsewhere; it detaches when its last user goes");
            return Status::success();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

Result<std::vector<std::string>> LoopDiskStorage::list_volumes() {
    using R = Result<std::vector<std::string>>;
    const std::string& instance = config_.instance;
    std::set<std::string> ids;
    if (auto st = scan_directory(config_.image_dir, [&](std::string_view n) { return worker_of_image_name(instance, n); }, ids);
        !st.ok())
        return host_failure::failure<R>("list_volumes: " + st.error());
    if (auto st = scan_directory(config_.mount_dir,
                                 [&](std::string_view n) { return worker_of_mount_point_name(instance, n); }, ids);
        !st.ok())
        return host_failure::failure<R>("list_volumes: " + st.error());

    auto mounts = read_mountinfo();
    if (!mounts.ok()) return host_failure::failure<R>("list_volumes: " + mounts.error());
    for (const auto& m : mounts.value()) {
        const auto [parent, name] = split_parent(m.mount_point);
        if (parent == config_.mount_dir)
            if (auto id = worker_of_mount_point_name(instance, name)) ids.insert(*id);
    }
    auto loops = list_attached_loops();
    if (!loops.ok()) return host_failure::failure<R>("list_volumes: " + loops.error());
    for (const auto& l : loops.value()) {
        const auto [parent, name] = split_parent(l.backing.path);
        if (parent == config_.image_dir)
            if (auto id = worker_of_image_name(instance, name)) ids.insert(*id);
    }
    return R::success(std::vector<std::string>(ids.begin(), ids.end()));
}

}  // namespace ci::loopdisk
