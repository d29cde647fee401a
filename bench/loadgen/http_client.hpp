#pragma once
// A small HTTP/1.1 client for load generation: one thread drives many keep-alive connections
// through epoll, so that hundreds of concurrent users cost the client a single core at most and
// the latency it measures is the gateway's, not the client's scheduling.
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ci::bench {

struct Endpoint {
    std::string host;  // numeric IPv4 address or "localhost"
    int port = 80;

    // "http://host:port" (a trailing path is not allowed: the routes are fixed).
    static Endpoint parse(const std::string& url);
};

struct HttpRequest {
    std::string method;
    std::string path;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // besides Host and Content-Length
};

struct HttpResponse {
    int status = 0;
    std::string body;
};

// What one connection does: the loop asks it for its next request and hands back the outcome.
class Script {
public:
    virtual ~Script() = default;
    virtual std::optional<HttpRequest> next() = 0;  // nullopt: this script is done
    virtual void on_answer(const HttpResponse& response, double latency_ms) = 0;
    virtual void on_failure(const std::string& reason) = 0;  // no (complete) answer
};

class HttpLoop {
public:
    // connections keep-alive connections, opened on first use and kept across run() calls.
    HttpLoop(Endpoint endpoint, std::size_t connections, std::chrono::seconds request_timeout);
    ~HttpLoop();
    HttpLoop(const HttpLoop&) = delete;
    HttpLoop& operator=(const HttpLoop&) = delete;

    // Runs scripts[i] on connection i, all concurrently, until every script is done.
    void run(const std::vector<Script*>& scripts);

private:
    struct Connection;
    void start_next(Connection& c);
    void fail(Connection& c, const std::string& reason);
    void on_writable(Connection& c);
    void on_readable(Connection& c);
    void close(Connection& c);

    Endpoint endpoint_;
    std::chrono::seconds timeout_;
    int epoll_fd_;
    std::vector<Connection> connections_;
    std::size_t busy_ = 0;  // connections with a request in flight
};

// One request on a connection of its own (status polls, releases).
HttpResponse fetch(const Endpoint& endpoint, const HttpRequest& request);

}  // namespace ci::bench
