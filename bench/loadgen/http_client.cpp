#include "http_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "workload.hpp"

namespace ci::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return s;
}

std::string serialize(const HttpRequest& request, const Endpoint& endpoint) {
    std::string out = request.method + " " + request.path + " HTTP/1.1\r\nHost: " + endpoint.host + ":" +
                      std::to_string(endpoint.port) + "\r\n";
    for (const auto& [name, value] : request.headers) out += name + ": " + value + "\r\n";
    if (!request.body.empty()) out += "Content-Type: application/json\r\n";
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n\r\n" + request.body;
    return out;
}

struct Parsed {
    HttpResponse response;
    std::size_t consumed = 0;  // bytes of the buffer this response used
    bool close = false;        // the server will close the connection after it
};

// A complete response at the start of buffer, nullopt while incomplete; throws when malformed.
std::optional<Parsed> parse_response(const std::string& buffer) {
    auto head_end = buffer.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    Parsed parsed;
    if (buffer.compare(0, 5, "HTTP/") != 0 || buffer.size() < 12) throw std::runtime_error("not an HTTP response");
    parsed.response.status = std::stoi(buffer.substr(9, 3));
    std::optional<std::size_t> length;
    std::size_t line = buffer.find("\r\n") + 2;
    while (line < head_end) {
        std::size_t end = buffer.find("\r\n", line);
        std::string header = buffer.substr(line, end - line);
        line = end + 2;
        auto colon = header.find(':');
        if (colon == std::string::npos) continue;
        std::string name = lower(header.substr(0, colon));
        std::string value = header.substr(header.find_first_not_of(' ', colon + 1));
        if (name == "content-length") length = std::stoul(value);
        if (name == "connection" && lower(value) == "close") parsed.close = true;
        if (name == "transfer-encoding") throw std::runtime_error("chunked responses are not supported");
    }
    if (!length) throw std::runtime_error("response without Content-Length");
    std::size_t body_start = head_end + 4;
    if (buffer.size() < body_start + *length) return std::nullopt;
    parsed.response.body = buffer.substr(body_start, *length);
    parsed.consumed = body_start + *length;
    return parsed;
}

int connect_to(const Endpoint& endpoint) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(endpoint.port));
    std::string host = endpoint.host == "localhost" ? "127.0.0.1" : endpoint.host;
    if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1)
        throw std::runtime_error("not an IPv4 address: " + endpoint.host);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    // A blocking connect is instant on loopback and keeps the state machine to requests only.
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        std::string error = std::strerror(errno);
        ::close(fd);
        throw std::runtime_error("connect to " + endpoint.host + ":" + std::to_string(endpoint.port) + ": " + error);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // requests are single small writes
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

}  // namespace

Endpoint Endpoint::parse(const std::string& url) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("only http:// URLs are supported: " + url);
    std::string rest = url.substr(scheme.size());
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.find('/') != std::string::npos) throw std::invalid_argument("the URL must not have a path: " + url);
    Endpoint endpoint;
    auto colon = rest.rfind(':');
    endpoint.host = rest.substr(0, colon);
    if (colon != std::string::npos) endpoint.port = std::stoi(rest.substr(colon + 1));
    return endpoint;
}

struct HttpLoop::Connection {
    std::size_t index = 0;
    int fd = -1;
    Script* script = nullptr;
    std::string out;
    std::size_t written = 0;
    std::string in;
    Clock::time_point sent_at;
    bool in_flight = false;
};

HttpLoop::HttpLoop(Endpoint endpoint, std::size_t connections, std::chrono::seconds request_timeout)
    : endpoint_(std::move(endpoint)), timeout_(request_timeout), epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      connections_(connections) {
    if (epoll_fd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    for (std::size_t i = 0; i < connections; ++i) connections_[i].index = i;
}

HttpLoop::~HttpLoop() {
    for (auto& c : connections_) close(c);
    ::close(epoll_fd_);
}

void HttpLoop::close(Connection& c) {
    if (c.fd < 0) return;
    ::close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.in.clear();
}

void HttpLoop::run(const std::vector<Script*>& scripts) {
    if (scripts.size() > connections_.size()) throw std::invalid_argument("more scripts than connections");
    for (std::size_t i = 0; i < scripts.size(); ++i) {
        connections_[i].script = scripts[i];
        start_next(connections_[i]);
    }
    std::vector<epoll_event> events(connections_.size());
    while (busy_ > 0) {
        int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 1000);
        if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        for (int i = 0; i < n; ++i) {
            Connection& c = connections_[events[static_cast<std::size_t>(i)].data.u64];
            if (!c.in_flight) {  // the server closed an idle connection: reconnect on its next use
                close(c);
                continue;
            }
            if (events[static_cast<std::size_t>(i)].events & EPOLLOUT) on_writable(c);
            if (c.in_flight && (events[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
        }
        const auto now = Clock::now();
        for (auto& c : connections_)
            if (c.in_flight && now - c.sent_at > timeout_) fail(c, "no answer within " + std::to_string(timeout_.count()) + " s");
    }
}

void HttpLoop::start_next(Connection& c) {
    std::optional<HttpRequest> request = c.script->next();
    if (!request) return;
    if (c.fd < 0) {
        try {
            c.fd = connect_to(endpoint_);
        } catch (const std::exception& e) {
            c.script->on_failure(e.what());
            return start_next(c);
        }
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = c.index;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &event);
    }
    c.out = serialize(*request, endpoint_);
    c.written = 0;
    c.in_flight = true;
    ++busy_;
    c.sent_at = Clock::now();
    on_writable(c);
}

void HttpLoop::on_writable(Connection& c) {
    while (c.written < c.out.size()) {
        ssize_t n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n < 0) return fail(c, std::string("send: ") + std::strerror(errno));
        c.written += static_cast<std::size_t>(n);
    }
    epoll_event event{};
    event.events = c.written < c.out.size() ? EPOLLIN | EPOLLOUT : EPOLLIN;
    event.data.u64 = c.index;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
}

void HttpLoop::on_readable(Connection& c) {
    char buffer[16384];
    bool closed = false;
    for (;;) {
        ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            c.in.append(buffer, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        closed = true;  // EOF or a reset
        break;
    }
    std::optional<Parsed> parsed;
    try {
        parsed = parse_response(c.in);
    } catch (const std::exception& e) {
        return fail(c, std::string("bad response: ") + e.what());
    }
    if (!parsed) {
        if (closed) fail(c, "the gateway closed the connection before answering");
        return;
    }
    const double latency = elapsed_ms(c.sent_at, Clock::now());
    c.in.erase(0, parsed->consumed);
    if (parsed->close || closed) close(c);
    c.in_flight = false;
    --busy_;
    c.script->on_answer(parsed->response, latency);
    start_next(c);
}

void HttpLoop::fail(Connection& c, const std::string& reason) {
    close(c);
    c.in_flight = false;
    --busy_;
    c.script->on_failure(reason);
    start_next(c);
}

HttpResponse fetch(const Endpoint& endpoint, const HttpRequest& request) {
    struct OneShot final : Script {
        std::optional<HttpRequest> request;
        HttpResponse response;
        std::string failure;
        std::optional<HttpRequest> next() override { return std::exchange(request, std::nullopt); }
        void on_answer(const HttpResponse& r, double) override { response = r; }
        void on_failure(const std::string& reason) override { failure = reason; }
    } script;
    script.request = request;
    HttpLoop loop(endpoint, 1, std::chrono::seconds(30));
    loop.run({&script});
    if (!script.failure.empty()) throw std::runtime_error(request.method + " " + request.path + ": " + script.failure);
    return script.response;
}

}  // namespace ci::bench
