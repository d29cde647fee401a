#include "http_test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace ci::test {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Reads from fd into buffer until it holds `until`, or at least `size` bytes; false at EOF/error.
class Reader {
public:
    explicit Reader(int fd) : fd_(fd) {}
    bool until(const std::string& marker, std::size_t& at) {
        for (;;) {
            if (auto found = buffer_.find(marker, scanned_); found != std::string::npos) {
                at = found;
                return true;
            }
            scanned_ = buffer_.size() >= marker.size() ? buffer_.size() - marker.size() + 1 : 0;
            if (!fill()) return false;
        }
    }
    bool at_least(std::size_t size) {
        while (buffer_.size() < size)
            if (!fill()) return false;
        return true;
    }
    std::string take(std::size_t n) {
        std::string out = buffer_.substr(0, n);
        buffer_.erase(0, n);
        scanned_ = 0;
        return out;
    }

private:
    bool fill() {
        char chunk[65536];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }
    int fd_;
    std::string buffer_;
    std::size_t scanned_ = 0;
};

bool read_request(int fd, ReceivedRequest& request) {
    Reader reader(fd);
    std::size_t end = 0;
    if (!reader.until("\r\n\r\n", end)) return false;
    const std::string head = reader.take(end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string first = head.substr(0, line_end);
    const auto sp1 = first.find(' ');
    const auto sp2 = first.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
    request.method = first.substr(0, sp1);
    request.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    for (std::size_t pos = line_end + 2; pos < end;) {
        const std::size_t next = head.find("\r\n", pos);
        const std::string line = head.substr(pos, next - pos);
        pos = next + 2;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        request.headers[lower(line.substr(0, colon))] = value;
    }
    if (lower(request.headers["transfer-encoding"]) == "chunked") {
        for (;;) {
            std::size_t size_end = 0;
            if (!reader.until("\r\n", size_end)) return false;
            const std::size_t size = std::stoul(reader.take(size_end + 2), nullptr, 16);
            if (!reader.at_least(size + 2)) return false;
            request.body += reader.take(size);
            reader.take(2);
            if (size == 0) return true;
        }
    }
    if (auto length = request.headers.find("content-length"); length != request.headers.end()) {
        const std::size_t size = std::stoul(length->second);
        if (!reader.at_least(size)) return false;
        request.body = reader.take(size);
    }
    return true;
}

}  // namespace

std::string pattern_bytes(std::uint64_t offset, std::size_t count) {
    std::string out(count, '\0');
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t at = offset + i;
        out[i] = static_cast<char>((at * 131 + (at >> 9) * 7 + 3) & 0xff);
    }
    return out;
}

HttpTestServer::HttpTestServer(Handler handler) : handler_(std::move(handler)) {
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 128) != 0)
        throw std::runtime_error("the test HTTP server cannot listen on 127.0.0.1");
    socklen_t length = sizeof address;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

HttpTestServer::~HttpTestServer() {
    ::close(stop_pipe_[1]);  // wakes the acceptor and every hanging answer
    acceptor_.join();
    {
        std::lock_guard lock(mu_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& thread : connections_) thread.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
}

std::string HttpTestServer::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<ReceivedRequest> HttpTestServer::requests() const {
    std::lock_guard lock(mu_);
    return requests_;
}

void HttpTestServer::accept_loop() {
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents) return;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lock(mu_);
        open_fds_.push_back(fd);
        connections_.emplace_back([this, fd] { serve(fd); });
    }
}

void HttpTestServer::serve(int fd) {
    ReceivedRequest request;
    if (read_request(fd, request)) {
        ServedResponse response = handler_(request);
        {
            std::lock_guard lock(mu_);
            requests_.push_back(request);
        }
        if (response.hang) {
            pollfd stop{stop_pipe_[0], POLLIN, 0};
            ::poll(&stop, 1, -1);
        } else {
            const std::uint64_t size = response.generated_bytes ? response.generated_bytes : response.body.size();
            std::string head = "HTTP/1.1 " + std::to_string(response.status) + " Test\r\nConnection: close\r\n";
            for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
            if (response.send_length) head += "Content-Length: " + std::to_string(size) + "\r\n";
            bool ok = send_all(fd, head + "\r\n");
            if (ok && !response.generated_bytes) send_all(fd, response.body);
            for (std::uint64_t sent = 0; ok && sent < response.generated_bytes;) {
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(1 << 20, response.generated_bytes - sent));
                ok = send_all(fd, pattern_bytes(sent, n));
                sent += n;
            }
        }
    }
    std::lock_guard lock(mu_);
    open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), fd));
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
}

}  // namespace ci::test
