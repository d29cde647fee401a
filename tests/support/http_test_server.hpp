#pragma once
// A real HTTP/1.1 server on 127.0.0.1 for tests of the gateway's transfers by URL: it serves what
// a handler answers (also bodies generated while they are sent, and answers that never come) and
// records every request it received, bodies included. One thread per connection; each connection
// carries one request.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ci::test {

struct ReceivedRequest {
    std::string method;
    std::string target;                         // path and query
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;                            // de-chunked
};

struct ServedResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // Instead of body: this many bytes of pattern_bytes, generated as they are sent.
    std::uint64_t generated_bytes = 0;
    bool send_length = true;  // false: no Content-Length, the body ends when the connection closes
    bool hang = false;        // read the request, then never answer (until the server stops)
};

// Deterministic bytes for large bodies: byte i is a function of i.
std::string pattern_bytes(std::uint64_t offset, std::size_t count);

class HttpTestServer {
public:
    using Handler = std::function<ServedResponse(const ReceivedRequest&)>;
    explicit HttpTestServer(Handler handler);
    ~HttpTestServer();
    HttpTestServer(const HttpTestServer&) = delete;
    HttpTestServer& operator=(const HttpTestServer&) = delete;

    int port() const { return port_; }
    std::string url(const std::string& path) const;
    std::vector<ReceivedRequest> requests() const;

private:
    void accept_loop();
    void serve(int fd);

    Handler handler_;
    int listen_fd_ = -1;
    int port_ = 0;
    int stop_pipe_[2] = {-1, -1};  // readable once the server stops: wakes hanging answers
    mutable std::mutex mu_;
    std::vector<ReceivedRequest> requests_;
    std::vector<int> open_fds_;
    std::vector<std::thread> connections_;
    std::thread acceptor_;
};

}  // namespace ci::test
