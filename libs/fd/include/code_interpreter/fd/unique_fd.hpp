#pragma once
// Move-only owner of a file descriptor, so every fd is closed exactly once. Header-only: the agent
// and the plugins (MODULE libraries with hidden visibility) each compile their own copy.
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace ci::fd {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
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
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    // Closes now (if open), ignoring close()'s error.
    void reset() noexcept {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }

    // Closes now and reports close()'s error: 0 when fine or already closed, else the errno.
    // For files whose last write must be known to have landed.
    int close() noexcept {
        if (fd_ < 0) return 0;
        return ::close(std::exchange(fd_, -1)) == 0 ? 0 : errno;
    }

private:
    int fd_ = -1;
};

}  // namespace ci::fd
