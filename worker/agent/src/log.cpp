#include "code_interpreter/agent/log.hpp"

#include <unistd.h>

#include <cerrno>

namespace ci::agent {

void log_line(std::string_view message) {
    // One write per line keeps lines whole when the kernel writes to the same stderr.
    std::string line = "ci-agent: ";
    line.append(message);
    line.push_back('\n');
    const char* data = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, data, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data += n;
        left -= static_cast<std::size_t>(n);
    }
}

std::system_error errno_error(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

}  // namespace ci::agent
