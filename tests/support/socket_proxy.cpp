#include "socket_proxy.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace ci::test {
namespace {

sockaddr_un address_of(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path)) throw std::runtime_error("socket path too long: " + path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

bool write_all(int fd, const char* data, ssize_t size) {
    while (size > 0) {
        ssize_t n = ::send(fd, data, static_cast<size_t>(size), MSG_NOSIGNAL);
        if (n <= 0) return false;
        data += n;
        size -= n;
    }
    return true;
}

}  // namespace

SocketProxy::SocketProxy(std::string listen_path, std::string target_path)
    : listen_path_(std::move(listen_path)), target_path_(std::move(target_path)) {
    start();
}

SocketProxy::~SocketProxy() {
    stop();
    ::unlink(listen_path_.c_str());
}

void SocketProxy::start() {
    std::lock_guard lock(mu_);
    if (listener_ >= 0) return;
    ::unlink(listen_path_.c_str());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address = address_of(listen_path_);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(fd, 64) != 0)
        throw std::runtime_error("proxy: cannot listen on " + listen_path_ + ": " + std::strerror(errno));
    listener_ = fd;
    threads_.emplace_back([this, fd] { accept_loop(fd); });
}

void SocketProxy::stop() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mu_);
        if (listener_ >= 0) ::shutdown(listener_, SHUT_RDWR);
        for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
        threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    std::lock_guard lock(mu_);
    if (listener_ >= 0) ::close(listener_);
    listener_ = -1;
    for (int fd : connections_) ::close(fd);
    connections_.clear();
}

void SocketProxy::accept_loop(int listener) {
    for (;;) {
        int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) return;  // shut down
        std::lock_guard lock(mu_);
        connections_.push_back(client);
        threads_.emplace_back([this, client] { pump(client); });
    }
}

// Copies both ways until either side closes (or stop() shuts the client down).
void SocketProxy::pump(int client) {
    int upstream = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address = address_of(target_path_);
    if (upstream < 0 || ::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        if (upstream >= 0) ::close(upstream);
        ::shutdown(client, SHUT_RDWR);
        return;
    }
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    char buf[65536];
    for (bool open = true; open;) {
        if (::poll(fds, 2, -1) < 0) break;
        for (int i = 0; i < 2 && open; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
            open = n > 0 && write_all(fds[1 - i].fd, buf, n);
        }
    }
    ::shutdown(client, SHUT_RDWR);
    ::close(upstream);
}

}  // namespace ci::test
