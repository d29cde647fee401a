#include "worker_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "code_interpreter/fd/unique_fd.hpp"
#include "docker_api.hpp"

namespace ci::docker {

using ci::fd::UniqueFd;
using ci::plugin::Status;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

Status ensure_directory(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::failure("cannot create directory " + path + ": " + ec.message());
    if (!std::filesystem::is_directory(path, ec))
        return Status::failure(path + " exists and is not a directory");
    return Status::success();
}

Status make_worker_dir(const std::string& path, uid_t uid, gid_t gid, const std::string& key_file,
                       const std::string& key) {
    if (::mkdir(path.c_str(), 0700) != 0) {
        const int err = errno;
        if (err == EEXIST) return Status::failure("directory " + path + " already exists (a leftover?)");
        return Status::failure("mkdir " + path + ": " + errno_text(err));
    }
    UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return Status::failure("open " + path + ": " + errno_text(errno));
    if (::fchown(dir.get(), uid, gid) != 0)
        return Status::failure("chown " + path + " to " + std::to_string(uid) + ":" + std::to_string(gid) + ": " +
                               errno_text(errno));
    if (::fchmod(dir.get(), 0700) != 0) return Status::failure("chmod 0700 " + path + ": " + errno_text(errno));

    const std::string key_path = path + "/" + key_file;
    UniqueFd file(::openat(dir.get(), key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
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

Status remove_tree(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);  // does not follow symlinks
    if (ec) return Status::failure("cannot remove " + path + ": " + ec.message());
    return Status::success();
}

}  // namespace ci::docker
