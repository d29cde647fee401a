#include "code_interpreter/agent/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <stdexcept>

#include "code_interpreter/agent/log.hpp"
#include "code_interpreter/fd/unique_fd.hpp"

namespace ci::agent {

using ci::fd::UniqueFd;

namespace {

constexpr std::size_t kMaxKeyFileBytes = 4096;

}  // namespace

std::string read_key_file(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw errno_error("cannot open key file " + path.string());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw errno_error("cannot stat key file " + path.string());
    if (!S_ISREG(st.st_mode))
        throw std::runtime_error("key file " + path.string() + " is not a regular file");
    // A key others could read would let them forge gateway requests.
    if ((st.st_mode & 077) != 0)
        throw std::runtime_error("key file " + path.string() +
                                 " is accessible by group or others (want mode 0600)");
    std::string key;
    char buffer[512];
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw errno_error("cannot read key file " + path.string());
        if (n == 0) break;
        key.append(buffer, static_cast<std::size_t>(n));
        if (key.size() > kMaxKeyFileBytes)
            throw std::runtime_error("key file " + path.string() + " is too large");
    }
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    if (key.empty()) throw std::runtime_error("key file " + path.string() + " is empty");
    return key;
}

}  // namespace ci::agent
