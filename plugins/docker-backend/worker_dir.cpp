#include "worker_dir.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "code_interpreter/fd/unique_fd.hpp"
#include "docker_api.hpp"

namespace ci::docker {

using ci::fd::UniqueFd;
using ci::plugin::Result;
using ci::plugin::Status;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Mounts stacked on one worker dir that remove_worker_dir undoes at most.
constexpr int kMaxStackedMounts = 16;

int remove_entry(const char* path, const struct stat*, int type, FTW*) {
    return (type == FTW_DP ? ::rmdir(path) : ::unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

Status unmount_all(const std::string& path) {
    for (int i = 0; i < kMaxStackedMounts; ++i) {
        if (::umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
        if (errno == EINVAL || errno == ENOENT) return Status::success();  // nothing (more) mounted there
        if (errno != EBUSY) return Status::failure("unmounting " + path + ": " + errno_text(errno));
        // Still in use (the gateway's socket to a gone agent): detach it now, it goes with its last user.
        if (::umount2(path.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
            return Status::failure("lazily unmounting " + path + ": " + errno_text(errno));
    }
    return Status::failure("unmounting " + path + ": still mounted after " + std::to_string(kMaxStackedMounts) +
                           " unmounts");
}

}  // namespace

Status ensure_directory(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::failure("cannot create directory " + path + ": " + ec.message());
    if (!std::filesystem::is_directory(path, ec))
        return Status::failure(path + " exists and is not a directory");
    return Status::success();
}

Result<WorkerDirMount> WorkerDirMount::make(const std::string& path, uid_t uid, gid_t gid) {
    using R = Result<WorkerDirMount>;
    if (::mkdir(path.c_str(), 0700) != 0) {
        const int err = errno;
        if (err == EEXIST) return R::failure("directory " + path + " already exists (a leftover?)");
        return R::failure("mkdir " + path + ": " + errno_text(err));
    }
    const std::string options = "size=" + std::string(kWorkerDirTmpfsSize) +
                                ",nr_inodes=" + std::to_string(kWorkerDirTmpfsInodes) + ",mode=0700,uid=" +
                                std::to_string(uid) + ",gid=" + std::to_string(gid);
    // nosymfollow: the gateway connects to the agent's socket by its path here, which the agent
    // could otherwise replace with a link to any socket of the host (the Docker daemon's); nothing
    // else can appear here, since only the worker writes to this file system.
    if (::mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW, options.c_str()) != 0) {
        const int err = errno;
        ::rmdir(path.c_str());
        return R::failure("mounting a tmpfs (" + options + ") on " + path + ": " + errno_text(err) +
                          (err == EPERM ? " (the gateway must run as root)" : ""));
    }
    WorkerDirMount owner;
    owner.path_ = path;
    return R::success(std::move(owner));
}

WorkerDirMount::~WorkerDirMount() {
    if (!path_.empty()) (void)remove_worker_dir(path_);
}

WorkerDirMount::WorkerDirMount(WorkerDirMount&& other) noexcept : path_(std::exchange(other.path_, {})) {}

WorkerDirMount& WorkerDirMount::operator=(WorkerDirMount&& other) noexcept {
    if (this != &other) {
        if (!path_.empty()) (void)remove_worker_dir(path_);
        path_ = std::exchange(other.path_, {});
    }
    return *this;
}

Status make_worker_dir(const std::string& path, uid_t uid, gid_t gid, const std::string& key_file,
                       const std::string& key) {
    auto mounted = WorkerDirMount::make(path, uid, gid);
    if (!mounted.ok()) return Status::failure(mounted.error());

    const std::string key_path = path + "/" + key_file;
    UniqueFd file(::open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file) return Status::failure("create " + key_path + ": " + errno_text(errno));
    if (::fchmod(file.get(), 0600) != 0) return Status::failure("chmod 0600 " + key_path + ": " + errno_text(errno));
    if (::fchown(file.get(), uid, gid) != 0) return Status::failure("chown " + key_path + ": " + errno_text(errno));
    std::size_t written = 0;
    while (written < key.size()) {
        const ssize_t n = ::write(file.get(), key.data() + written, key.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Status::failure("write " + key_path + ": " + errno_text(errno));
        }
        written += static_cast<std::size_t>(n);
    }
    if (const int err = file.close(); err != 0) return Status::failure("close " + key_path + ": " + errno_text(err));
    mounted.value().release();
    return Status::success();
}

Status write_hosts_file(const std::string& path, const std::string& hostname) {
    const std::string file_path = path + "/" + kHostsFile;
    const std::string text = "127.0.0.1\tlocalhost " + hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    UniqueFd file(::open(file_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!file) return Status::failure("create " + file_path + ": " + errno_text(errno));
    if (::fchmod(file.get(), 0644) != 0) return Status::failure("chmod 0644 " + file_path + ": " + errno_text(errno));
    if (::write(file.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return Status::failure("write " + file_path + ": " + errno_text(errno));
    if (const int err = file.close(); err != 0) return Status::failure("close " + file_path + ": " + errno_text(err));
    return Status::success();
}

Status remove_worker_dir(const std::string& path) {
    if (auto st = unmount_all(path); !st.ok()) return st;
    if (::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 && errno != ENOENT)
        return Status::failure("cannot remove " + path + ": " + errno_text(errno));
    return Status::success();
}

}  // namespace ci::docker
