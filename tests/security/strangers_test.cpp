// Strangers on the API port, on the real stack: 200 slow connections without a token (headers a
// byte at a time, or a large declared body) leave /health and a real session answering at their
// normal speed and the gateway's memory bounded; a request is refused from its head, before its
// body is read (no token, or a body over its route's limit); a head slower than
// server.header_timeout is cut while a long execution is not; connections past
// server.max_connections are closed unread, and every connection Pistache's timers drop gives its
// place back.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxConnections = 256;
constexpr int kStrangers = 200;

// Whether the gateway closed fd (EOF) within limit, without having sent anything.
bool closed_unread(int fd, std::chrono::milliseconds limit) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char byte;
    return ::recv(fd, &byte, 1, MSG_DONTWAIT) == 0;
}

// Latencies (ms, sorted) of n calls of f.
template <class F>
std::vector<long long> timed(int n, F f) {
    std::vector<long long> out;
    for (int i = 0; i < n; ++i) {
        auto started = std::chrono::steady_clock::now();
        f();
        out.push_back(ms_since(started));
    }
    std::sort(out.begin(), out.end());
    return out;
}

// What came back on fd until the peer closed it or limit passed.
struct Received {
    std::string bytes;
    bool closed = false;
};
Received receive_all(int fd, std::chrono::milliseconds limit) {
    Received out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count()))) <= 0) return out;
        char buffer[4096];
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            out.closed = true;
            return out;
        }
        out.bytes.append(buffer, static_cast<std::size_t>(n));
    }
}

bool send_text(int fd, const std::string& text) {
    return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// One whole answer (head and Content-Length body) read from a keep-alive connection.
std::string read_answer(int fd, std::chrono::milliseconds limit) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto head_end = got.find("\r\n\r\n");
        if (head_end != std::string::npos) {
            const auto at = got.find("Content-Length: ");
            const std::size_t length = at == std::string::npos ? 0 : std::stoul(got.substr(at + 16));
            if (got.size() >= head_end + 4 + length) return got;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buffer[4096];
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        got.append(buffer, static_cast<std::size_t>(n));
    }
    return got;
}

std::string execute_request(const std::string& code, const char* token) {
    const std::string body = nlohmann::json{{"user_uuid", user_of(7)}, {"code", code}}.dump();
    return "POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nX-Auth-Token: " +
           std::string(token) + "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

class StrangersTest : public ::testing::Test {
protected:
    void start(const std::string& server_toml) {
        TestGatewayOptions options{.min_idle = 1, .max_total = 2, .timeout_s = 30};
        options.loop_disk = false;
        options.server_toml = server_toml;
        gateway_ = std::make_unique<TestGateway>("strangers", options);
        const std::string url = gateway_->url("");
        port_ = std::stoi(url.substr(url.rfind(':') + 1));
    }
    void TearDown() override {
        for (int fd : strangers_) ::close(fd);
        gateway_.reset();
    }
    int stranger() {
        const int fd = connect_loopback(port_);
        EXPECT_GE(fd, 0);
        strangers_.push_back(fd);
        return fd;
    }

    void health() { EXPECT_EQ(http_request("GET", gateway_->url("/health")).status, 200); }
    void execute() { EXPECT_EQ(result_text(execute_as(gateway_->url(""), user_of(7), "n = 1\nn")), "1"); }

    std::unique_ptr<TestGateway> gateway_;
    int port_ = 0;
    std::vector<int> strangers_;
};

TEST_F(StrangersTest, SlowUnauthenticatedConnectionsLeaveOthersAtNormalSpeed) {
    start("max_connections = " + std::to_string(kMaxConnections) + "\nheader_timeout = 60\n");
    execute();  // the session exists before the strangers come
    const auto health_before = timed(50, [&] { health(); });
    const auto execute_before = timed(30, [&] { execute(); });
    const long rss_before = resident_mib();

    // Half send a request head a byte at a time; half declare a 50 MB body and trickle it.
    const std::string slow_head = "POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    const std::string big_body_head = "POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000000\r\n\r\n{";
    for (int i = 0; i < kStrangers; ++i) {
        const int fd = stranger();
        ASSERT_GE(fd, 0);
        if (i % 2) ASSERT_TRUE(send_text(fd, big_body_head));
    }
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
        for (std::size_t byte = 0; !stop; ++byte) {
            for (std::size_t i = 0; i < strangers_.size(); ++i) {
                const char c = i % 2 ? 'x' : slow_head[byte % slow_head.size()];
                ::send(strangers_[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
            std::this_thread::sleep_for(50ms);
        }
    });
    std::this_thread::sleep_for(1s);
    const auto health_during = timed(50, [&] { health(); });
    const auto execute_during = timed(30, [&] { execute(); });
    stop = true;
    trickle.join();

    const auto p50 = [](const std::vector<long long>& v) { return v[v.size() / 2]; };
    // Normal speed: a few milliseconds either way; the bound leaves room for the host's noise.
    EXPECT_LE(p50(health_during), 2 * p50(health_before) + 5) << "ms, before " << p50(health_before);
    EXPECT_LE(p50(execute_during), 2 * p50(execute_before) + 5) << "ms, before " << p50(execute_before);
    EXPECT_LT(health_during.back(), 500);
    EXPECT_LT(execute_during.back(), 1000);
    EXPECT_LT(resident_mib() - rss_before, 32) << "MiB grown with " << kStrangers << " strangers";
    // The slow heads are still waiting (header_timeout is 60 s here); the large bodies were
    // refused from their heads (ALargeBodyWithoutATokenIsRefusedFromItsHead reads the answer: here
    // the bytes trickled after it reset the connection) and closed.
    for (std::size_t i = 0; i < strangers_.size(); ++i) {
        const Received got = receive_all(strangers_[i], 0ms);
        if (i % 2 == 0) EXPECT_TRUE(got.bytes.empty() && !got.closed) << i << ": " << got.bytes;
        else EXPECT_TRUE(got.closed) << i << ": " << got.bytes;
    }
}

TEST_F(StrangersTest, ALargeBodyWithoutATokenIsRefusedFromItsHead) {
    start("");
    const int fd = stranger();
    ASSERT_TRUE(send_text(fd, "POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000000\r\n\r\n{"));
    const Received got = receive_all(fd, 2s);
    EXPECT_EQ(got.bytes.rfind("HTTP/1.1 401", 0), 0u) << got.bytes;
    EXPECT_NE(got.bytes.find("\"reason\":\"unauthorized\""), std::string::npos) << got.bytes;
    EXPECT_TRUE(got.closed) << "the rest of the body is not read: the connection goes with the answer";
}

TEST_F(StrangersTest, ABodyOverItsRoutesLimitIsRefusedFromItsHead) {
    start("max_body_bytes = 1048576\n");
    // 2 MiB declared to a JSON route with a valid token: refused before a byte of it is sent.
    int fd = stranger();
    ASSERT_TRUE(send_text(fd, std::string("POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: ") +
                                  kUserToken + "\r\nContent-Length: 2097152\r\n\r\n"));
    Received got = receive_all(fd, 2s);
    EXPECT_EQ(got.bytes.rfind("HTTP/1.1 413", 0), 0u) << got.bytes;
    EXPECT_NE(got.bytes.find("server.max_body_bytes"), std::string::npos) << got.bytes;
    EXPECT_TRUE(got.closed);
    // A route that reads no body takes a few KiB at most.
    fd = stranger();
    ASSERT_TRUE(send_text(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n"));
    got = receive_all(fd, 2s);
    EXPECT_EQ(got.bytes.rfind("HTTP/1.1 413", 0), 0u) << got.bytes;
    // The same 2 MiB as an upload is within files.max_upload_bytes: the gateway asks for the body.
    fd = stranger();
    ASSERT_TRUE(send_text(fd, std::string("POST /api/v1/files?user_uuid=") + user_of(7) +
                                  "&path=big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: " + kUserToken +
                                  "\r\nContent-Length: 2097152\r\nExpect: 100-continue\r\n\r\n"));
    got = receive_all(fd, 1s);
    EXPECT_EQ(got.bytes, "HTTP/1.1 100 Continue\r\n\r\n");
    EXPECT_FALSE(got.closed);
}

TEST_F(StrangersTest, AHeadSlowerThanTheHeaderTimeoutIsCutButALongExecutionIsNot) {
    start("header_timeout = 1\n");
    const int silent = stranger();
    const int slow = stranger();
    ASSERT_TRUE(send_text(slow, "GET /health HTTP/1.1\r\n"));
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 8 && send_text(slow, "X: y\r\n"); ++i) std::this_thread::sleep_for(300ms);
    // Pistache looks every 500 ms: cut between 1 and about 2 s after the connection opened.
    const Received slow_got = receive_all(slow, 3s);
    EXPECT_TRUE(slow_got.closed);
    EXPECT_EQ(slow_got.bytes.rfind("HTTP/1.1 408", 0), 0u) << slow_got.bytes;
    EXPECT_LT(ms_since(started), 3500);
    EXPECT_TRUE(receive_all(silent, 1s).closed) << "a connection that sends nothing is cut too";

    // An execution of 3 s on a keep-alive connection: the header timer does not count the answer,
    // and the connection serves the next request.
    const int client = stranger();
    ASSERT_TRUE(send_text(client, execute_request("import time\ntime.sleep(3)\n'slept'", kUserToken)));
    const std::string first = read_answer(client, 10s);
    EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;
    EXPECT_NE(first.find("slept"), std::string::npos) << first;
    ASSERT_TRUE(send_text(client, execute_request("'again'", kUserToken)));
    const std::string second = read_answer(client, 10s);
    EXPECT_EQ(second.rfind("HTTP/1.1 200", 0), 0u) << second;
    EXPECT_NE(second.find("again"), std::string::npos) << second;
}

TEST_F(StrangersTest, ConnectionsPastTheCapAreClosedUnread) {
    start("max_connections = " + std::to_string(kMaxConnections) + "\n");
    for (int i = 0; i < kMaxConnections; ++i) ASSERT_GE(stranger(), 0);
    // Every one of them was accepted and is held open.
    for (int fd : strangers_) EXPECT_FALSE(closed_unread(fd, 0ms));
    // One more: accepted by the kernel, and one of the 257 closed by the gateway before it reads a
    // byte (Pistache's threads take new connections concurrently, so it may be an earlier one).
    ASSERT_GE(stranger(), 0);
    std::size_t closed = 0;
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (closed == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
        closed = std::count_if(strangers_.begin(), strangers_.end(), [](int fd) { return closed_unread(fd, 0ms); });
    }
    EXPECT_EQ(closed, 1u);
    // Room again once strangers leave.
    for (int i = 0; i < 10; ++i) ::close(strangers_[i]);
    strangers_.erase(strangers_.begin(), strangers_.begin() + 10);
    EXPECT_TRUE(wait_until([&] { return http_request("GET", gateway_->url("/health")).status == 200; }, 5s));
}

// Pistache's timers drop idle keep-alive connections without telling the handler: each must still
// give its place in server.max_connections back.
TEST_F(StrangersTest, ConnectionsTheTimersDropGiveTheirPlaceBack) {
    start("max_connections = 16\nkeepalive_timeout = 1\n");
    const std::string request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";
    for (int round = 0; round < 3; ++round) {
        std::vector<int> held;
        for (int i = 0; i < 12; ++i) {
            const int fd = stranger();
            ASSERT_TRUE(send_text(fd, request));
            EXPECT_EQ(read_answer(fd, 2s).rfind("HTTP/1.1 200", 0), 0u) << "round " << round << ", connection " << i;
            held.push_back(fd);
        }
        // The keep-alive timer closes them (idle past 1 s); the client side stays open.
        for (int fd : held) EXPECT_TRUE(receive_all(fd, 3s).closed) << "round " << round;
    }
}

}  // namespace
}  // namespace ci::test
