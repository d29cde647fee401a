#include "host_listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace ci::test {

HostListener::HostListener() { listen_on("0.0.0.0"); }

HostListener::HostListener(const std::string& ip) { listen_on(ip); }

void HostListener::listen_on(const std::string& ip) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
        throw std::invalid_argument("not an IPv4 address: " + ip);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int error = errno;
        ::close(fd_);
        throw std::system_error(error, std::generic_category(), "cannot listen on " + ip);
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
        while (!stop_) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c >= 0) {
                if (!stop_) ++accepted_;
                ::close(c);
            } else if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO) {
                return;  // shut down by the destructor (EINVAL), or the socket is unusable
            }
        }
    });
}

HostListener::~HostListener() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes the blocked accept4
    thread_.join();
    ::close(fd_);
}

int HostListener::wait_for_accepted(int count, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (accepted_ < count && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return accepted_;
}

}  // namespace ci::test
