#pragma once
// The per-worker host directory: made 0700 for the agent's user, holding agent.key (0600).
#include <sys/types.h>

#include <string>
#include <utility>

#include "code_interpreter/plugin/result.hpp"

namespace ci::docker {

// Move-only owner of a file descriptor.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    // Closes now and reports close()'s error (0 when fine).
    int close();

private:
    void reset();
    int fd_ = -1;
};

// mkdir -p with mode 0755 for missing components (existing ones are left as they are).
ci::plugin::Status ensure_directory(const std::string& path);

// Makes `path` (which must not exist; its parent must) with mode 0700 owned uid:gid, and writes
// `key` to `path`/`key_file` with mode 0600 owned uid:gid.
ci::plugin::Status make_worker_dir(const std::string& path, uid_t uid, gid_t gid, const std::string& key_file,
                                   const std::string& key);

// rm -rf `path` (never following symlinks out of it). A missing path succeeds.
ci::plugin::Status remove_tree(const std::string& path);

}  // namespace ci::docker
