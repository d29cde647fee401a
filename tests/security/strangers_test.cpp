// Strangers on the API port, on the real stack: 200 slow connections without a token (headers a
// byte at a time, or a large declared body trickling in) leave /health and a real session
// answering at their normal speed, the gateway's memory bounded, and connections past
// server.max_connections are closed unread.
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

class StrangersTest : public ::testing::Test {
protected:
    void SetUp() override {
        TestGatewayOptions options{.min_idle = 1, .max_total = 2, .timeout_s = 30};
        options.loop_disk = false;
        options.server_toml = "max_connections = " + std::to_string(kMaxConnections) + "\n";
        gateway_ = std::make_unique<TestGateway>("strangers", options);
        const std::string url = gateway_->url("");
        port_ = std::stoi(url.substr(url.rfind(':') + 1));
    }
    void TearDown() override {
        for (int fd : strangers_) ::close(fd);
        gateway_.reset();
    }

    void health() { EXPECT_EQ(http_request("GET", gateway_->url("/health")).status, 200); }
    void execute() { EXPECT_EQ(result_text(execute_as(gateway_->url(""), user_of(7), "n = 1\nn")), "1"); }

    std::unique_ptr<TestGateway> gateway_;
    int port_ = 0;
    std::vector<int> strangers_;
};

TEST_F(StrangersTest, SlowUnauthenticatedConnectionsLeaveOthersAtNormalSpeed) {
    execute();  // the session exists before the strangers come
    const auto health_before = timed(50, [&] { health(); });
    const auto execute_before = timed(30, [&] { execute(); });
    const long rss_before = resident_mib();

    // Half send a request head a byte at a time; half declare a 50 MB body and trickle it.
    const std::string slow_head = "POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    const std::string big_body_head = "POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000000\r\n\r\n{";
    for (int i = 0; i < kStrangers; ++i) {
        const int fd = connect_loopback(port_);
        ASSERT_GE(fd, 0);
        strangers_.push_back(fd);
        if (i % 2) ASSERT_EQ(::send(fd, big_body_head.data(), big_body_head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(big_body_head.size()));
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
    // None of them got an answer: they sent no complete request.
    for (int fd : strangers_) {
        char byte;
        EXPECT_EQ(::recv(fd, &byte, 1, MSG_DONTWAIT), -1);
    }
}

TEST_F(StrangersTest, ConnectionsPastTheCapAreClosedUnread) {
    for (int i = 0; i < kMaxConnections; ++i) {
        const int fd = connect_loopback(port_);
        ASSERT_GE(fd, 0);
        strangers_.push_back(fd);
    }
    // Every one of them was accepted and is held open.
    for (int fd : strangers_) EXPECT_FALSE(closed_unread(fd, 0ms));
    // One more: accepted by the kernel, and one of the 257 closed by the gateway before it reads a
    // byte (Pistache's threads take new connections concurrently, so it may be an earlier one).
    const int extra = connect_loopback(port_);
    ASSERT_GE(extra, 0);
    strangers_.push_back(extra);
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

}  // namespace
}  // namespace ci::test
