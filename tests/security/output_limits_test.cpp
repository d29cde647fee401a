// Hostile code against the output limit, on the real stack: every byte a reply carries counts
// (display metadata, errors, tracebacks), nothing is added after the cut, clear_output gives no
// budget back, and a stream client that stops reading is cut off while the session still gets its
// answer. Throughout, the gateway's memory stays bounded and another user's session keeps its speed.
//
// The gateway runs in this process, so this process's resident memory is the gateway's.
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

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::size_t kMaxOutput = 1 << 20;
constexpr std::size_t kStreamBuffer = 1 << 20;  // the least allowed
// What an answer of at most kMaxOutput counted bytes may take as JSON (escapes, field names).
constexpr std::size_t kMaxAnswerBytes = 2 * kMaxOutput + (64 << 10);
// How far the gateway's resident memory may grow over the whole suite: a reply is at most
// protocol::max_reply_bytes (7 MiB here), a few live at once, and the allocator keeps some.
constexpr long kRssGrowthBoundMiB = 96;

// 3 MB printed and cleared as it goes.
constexpr const char* kPrintAndClear = R"(
from IPython.display import clear_output
for i in range(3000):
    print('x' * 1000)
    clear_output()
streamed = 'to the end'
)";

// Another user runs a trivial cell again and again while an attack runs; its latencies.
class Bystander {
public:
    explicit Bystander(std::string base_url) : base_url_(std::move(base_url)) {
        thread_ = std::thread([this] {
            while (!stop_) {
                auto started = std::chrono::steady_clock::now();
                auto r = execute_as(base_url_, user_of(900), "1", 30);
                latencies_.push_back(ms_since(started));
                if (r.status != 200) failures_++;
                std::this_thread::sleep_for(20ms);
            }
        });
    }
    // Stops; returns the latencies in milliseconds, sorted.
    std::vector<long long> stop() {
        stop_ = true;
        thread_.join();
        std::sort(latencies_.begin(), latencies_.end());
        return latencies_;
    }
    int failures() const { return failures_; }

private:
    std::string base_url_;
    std::atomic<bool> stop_{false};
    std::atomic<int> failures_{0};
    std::vector<long long> latencies_;
    std::thread thread_;
};

void expect_bystander_unharmed(const std::vector<long long>& latencies, int failures) {
    EXPECT_EQ(failures, 0);
    ASSERT_FALSE(latencies.empty());
    // A trivial cell takes a few milliseconds; the attack shares the host's two cores, so the
    // bound is loose, but an I/O thread busy with the attacker's output would blow it.
    EXPECT_LT(latencies[latencies.size() / 2], 100) << "median of " << latencies.size();
    EXPECT_LT(latencies.back(), 2000) << "slowest of " << latencies.size();
}

class OutputLimitsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        TestGatewayOptions options{.min_idle = 2, .max_total = 8, .timeout_s = 60,
                                   .worker_toml = "ram_mb = 1024\ndisk_mb = 64\n"};
        options.execution_toml = "max_output_bytes = " + std::to_string(kMaxOutput) + "\n";
        gateway_ = std::make_unique<TestGateway>("outlimits", options);
        // The bystander's session exists before the first attack, and its latency is known.
        for (int i = 0; i < 20; ++i) ASSERT_EQ(execute_as(gateway_->url(""), user_of(900), "1").status, 200);
        baseline_rss_mib_ = resident_mib();
    }
    static void TearDownTestSuite() {
        if (!gateway_) return;
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    // Runs the attack as user while the bystander runs; checks the bystander kept its speed and
    // the gateway its memory bound. Returns the attack's answer.
    static HttpResponse attack(const std::string& user, const std::string& code) {
        Bystander bystander(gateway_->url(""));
        auto r = execute_as(gateway_->url(""), user, code, 120);
        auto latencies = bystander.stop();
        expect_bystander_unharmed(latencies, bystander.failures());
        expect_memory_bounded();
        return r;
    }

    static void expect_memory_bounded() {
        EXPECT_LT(resident_mib() - baseline_rss_mib_, kRssGrowthBoundMiB)
            << "resident " << resident_mib() << " MiB, " << baseline_rss_mib_ << " MiB before the attacks";
    }

    static inline std::unique_ptr<TestGateway> gateway_;
    static inline long baseline_rss_mib_ = 0;
};

TEST_F(OutputLimitsTest, DisplayMetadataOf100MBIsCountedAndDropped) {
    const std::string user = user_of(1);
    auto r = attack(user, R"(
from IPython.display import display
kept = 'before'
display({'text/plain': 'small'}, metadata={'k': 'x' * 10**8}, raw=True)
'added after the cut'
)");
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    EXPECT_LT(r.body.size(), kMaxAnswerBytes);
    auto body = body_of(r);
    EXPECT_EQ(body["truncated"], true);
    EXPECT_EQ(body["outputs"], json::array()) << "the display did not fit, and nothing comes after the cut";
    EXPECT_EQ(result_text(execute_as(gateway_->url(""), user, "kept")), "'before'");
}

TEST_F(OutputLimitsTest, ALoopOfShowtracebackIsCountedAndCut) {
    const std::string user = user_of(2);
    auto r = attack(user, R"(
shown = 0
for i in range(400):
    try:
        raise ValueError('e' * 10000)
    except ValueError:
        get_ipython().showtraceback()
    shown += 1
)");
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    EXPECT_LT(r.body.size(), kMaxAnswerBytes) << "8 MB of errors against a 1 MiB budget";
    auto body = body_of(r);
    EXPECT_EQ(body["truncated"], true);
    EXPECT_TRUE(body["error"].is_object()) << "the errors before the cut are kept";
    EXPECT_EQ(result_text(execute_as(gateway_->url(""), user, "shown")), "400");
}

// Streamed, cleared output was sent already: clear_output gives no budget back.
TEST_F(OutputLimitsTest, PrintAndClearOutputStreamedKeepsItsBudget) {
    const std::string user = user_of(3);
    const std::string body = json{{"user_uuid", user}, {"code", kPrintAndClear}}.dump();
    Bystander bystander(gateway_->url(""));
    auto r = http_request("POST", gateway_->url("/api/v1/execute/stream"), body, kUserToken, 120);
    expect_bystander_unharmed(bystander.stop(), bystander.failures());
    expect_memory_bounded();
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    EXPECT_LT(r.body.size(), kMaxAnswerBytes) << "3 MB printed against a 1 MiB budget";
    const auto result_at = r.body.rfind("event: result\ndata: ");
    ASSERT_NE(result_at, std::string::npos) << r.body.substr(r.body.size() > 400 ? r.body.size() - 400 : 0);
    auto result = json::parse(r.body.substr(result_at + 20, r.body.find('\n', result_at + 20) - result_at - 20));
    EXPECT_EQ(result["truncated"], true);
    EXPECT_EQ(result_text(execute_as(gateway_->url(""), user, "streamed")), "'to the end'");
}

TEST_F(OutputLimitsTest, HundredMegabytesOfHtmlAreCut) {
    const std::string user = user_of(4);
    auto r = attack(user, "from IPython.display import HTML, display\ndisplay(HTML('<b>' + 'x' * 10**8 + '</b>'))");
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    EXPECT_LT(r.body.size(), kMaxAnswerBytes);
    auto body = body_of(r);
    EXPECT_EQ(body["truncated"], true);
    EXPECT_EQ(body["outputs"], json::array());
}

// A raw client: sends the request, then reads nothing until told to.
class LazyClient {
public:
    LazyClient(int port, const std::string& request)
        : fd_(connect_loopback(port, 4096)) {  // a small window: the gateway's bytes pile up on its side
        connected_ = fd_ >= 0 &&
                     ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
    }
    ~LazyClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool connected() const { return connected_; }
    // Reads until the peer has sent the last chunk, closed, or limit passed.
    std::string read_all(std::chrono::milliseconds limit) { return read_until("\r\n0\r\n\r\n", limit); }
    // Reads a byte at a time until the answer's head has come, no further.
    std::string read_head(std::chrono::milliseconds limit) { return read_until("\r\n\r\n", limit, 1); }

private:
    std::string read_until(const std::string& end, std::chrono::milliseconds limit, std::size_t most = 65536) {
        std::string got;
        auto deadline = std::chrono::steady_clock::now() + limit;
        char buffer[65536];
        while (std::chrono::steady_clock::now() < deadline && got.find(end) == std::string::npos) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            ssize_t n = ::recv(fd_, buffer, std::min(most, sizeof buffer), 0);
            if (n <= 0) break;
            got.append(buffer, static_cast<std::size_t>(n));
        }
        return got;
    }

    int fd_ = -1;
    bool connected_ = false;
};

// Its own gateway: the output limit must be above what the sockets hold (the host lets a socket's
// send buffer grow to 4 MiB) for the gateway's queue to fill.
class LazyStreamClientTest : public ::testing::Test {
protected:
    static constexpr std::size_t kLargeOutput = 16 << 20;

    static void SetUpTestSuite() {
        TestGatewayOptions options{.min_idle = 2, .max_total = 3, .timeout_s = 60,
                                   .worker_toml = "ram_mb = 512\ndisk_mb = 64\n"};
        options.server_toml = "stream_buffer_bytes = " + std::to_string(kStreamBuffer) + "\n";
        options.execution_toml = "max_output_bytes = " + std::to_string(kLargeOutput) + "\n";
        gateway_ = std::make_unique<TestGateway>("lazystream", options);
        for (int i = 0; i < 20; ++i) ASSERT_EQ(execute_as(gateway_->url(""), user_of(900), "1").status, 200);
        baseline_rss_mib_ = resident_mib();
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    static inline std::unique_ptr<TestGateway> gateway_;
    static inline long baseline_rss_mib_ = 0;
};

TEST_F(LazyStreamClientTest, PrintAndClearOutputStreamedToAClientThatStopsReading) {
    const std::string user = user_of(5);
    const std::string url = gateway_->url("");
    const int port = std::stoi(url.substr(url.rfind(':') + 1));
    // 20 MB printed, cleared as it goes; the output limit cuts it at 16 MiB.
    const std::string code = json(R"(
from IPython.display import clear_output
for i in range(20000):
    print('x' * 1000)
    clear_output()
streamed = 'to the end'
)").dump();
    const std::string body = "{\"user_uuid\": \"" + user + "\", \"code\": " + code + "}";
    const std::string request = "POST /api/v1/execute/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: " +
                                std::string(kUserToken) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;

    Bystander bystander(url);
    LazyClient lazy(port, request);
    ASSERT_TRUE(lazy.connected());
    ASSERT_EQ(lazy.read_head(10s).rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << "the stream started";
    // The session answers its next request once the streamed execution ended: it ran to its end
    // though its client read nothing.
    auto next = execute_as(url, user, "streamed", 120);
    auto latencies = bystander.stop();
    EXPECT_EQ(result_text(next), "'to the end'") << next.body;
    expect_bystander_unharmed(latencies, bystander.failures());
    EXPECT_LT(resident_mib() - baseline_rss_mib_, kRssGrowthBoundMiB) << "16 MiB streamed to a client that reads nothing";

    const std::string got = lazy.read_all(10s);
    EXPECT_NE(got.find("event: error"), std::string::npos) << got.substr(got.size() > 300 ? got.size() - 300 : 0);
    EXPECT_NE(got.find("\"reason\":\"client_too_slow\""), std::string::npos);
    EXPECT_EQ(got.find("event: result"), std::string::npos) << "the stream ended at the cut";
    EXPECT_LT(got.size(), kStreamBuffer + (8 << 20)) << "at most the buffer and the sockets' own (up to 4 MiB each way)";
}

}  // namespace
}  // namespace ci::test
