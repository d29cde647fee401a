// A worker's agent taken over by an attacker (it holds the worker's key) against the real gateway:
// it cannot crash, stall or flood it. Every attack ends with the worker destroyed and a typed
// answer, the gateway keeps serving, and another user's session keeps its speed. The workers come
// from tests/plugins/hostile_agent_plugin.cpp (in-process agents that misbehave on request).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
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

using namespace std::chrono_literals;

class HostileAgentTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        TestGatewayOptions options{.min_idle = 2, .max_total = 6, .timeout_s = 5};
        options.loop_disk = false;
        options.isolation_toml = "[plugins.hostile-agent]\npath = \"" CI_BUILD_DIR
                                 "/test-plugins/libci_test_hostile_agent.so\"\ndir = \"" + dir() + "\"\n";
        gateway_ = std::make_unique<TestGateway>("hostile", options);
        ASSERT_EQ(result_text(execute_as(url(), kBystander, "hello")), "hello");
    }
    static void TearDownTestSuite() {
        gateway_.reset();
        std::filesystem::remove_all(dir());
    }

    static std::string dir() { return "/tmp/ci-hostile-" + std::to_string(::getpid()); }

    static std::string url() { return gateway_->url(""); }

    // Runs the attack while the bystander sends plain executions; the bystander's answers all
    // come, and quickly. Returns the attacker's answer.
    static HttpResponse attack(const std::string& code) {
        std::atomic<bool> stop{false};
        std::vector<long long> latencies;
        int failures = 0;
        std::thread bystander([&] {
            while (!stop) {
                auto started = std::chrono::steady_clock::now();
                if (result_text(execute_as(url(), kBystander, "still here", 10)) != "still here") ++failures;
                latencies.push_back(ms_since(started));
                std::this_thread::sleep_for(5ms);
            }
        });
        auto r = execute_as(url(), kAttacker, code, 60);
        stop = true;
        bystander.join();
        EXPECT_EQ(failures, 0);
        EXPECT_FALSE(latencies.empty());
        if (!latencies.empty()) {
            std::sort(latencies.begin(), latencies.end());
            EXPECT_LT(latencies[latencies.size() / 2], 50) << "median of " << latencies.size();
            EXPECT_LT(latencies.back(), 1000) << "slowest of " << latencies.size();
        }
        EXPECT_EQ(http_request("GET", gateway_->url("/health")).status, 200);
        return r;
    }

    // The attacker's worker was destroyed: its next call starts a fresh session.
    static void expect_fresh_session() {
        auto next = execute_as(url(), kAttacker, "fresh");
        EXPECT_EQ(result_text(next), "fresh") << next.body;
        EXPECT_EQ(body_of(next)["new_session"], true);
    }

    static constexpr const char* kAttacker = "a7000000-0000-4000-8000-0000000000a7";
    static constexpr const char* kBystander = "b7000000-0000-4000-8000-0000000000b7";
    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(HostileAgentTest, AReplyFieldOfTheWrongTypeIsAProtocolViolation) {
    for (const char* code : {"wrong_type", "wrong_result"}) {
        auto r = attack(code);
        EXPECT_EQ(r.status, 502) << code << ": " << r.body;
        EXPECT_EQ(reason_of(r), "protocol_violation") << r.body;
        EXPECT_EQ(body_of(r)["session_kept"], false);
        expect_fresh_session();
    }
}

TEST_F(HostileAgentTest, DeeplyNestedJsonIsRefusedUnparsed) {
    auto r = attack("deep_json");
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(reason_of(r), "protocol_violation");
    EXPECT_NE(body_of(r)["detail"].get<std::string>().find("deeper"), std::string::npos) << r.body;
}

TEST_F(HostileAgentTest, AHugeFrameEndsTheWorkerUnread) {
    auto r = attack("huge_frame");
    // ZeroMQ drops the connection before the frame is read: to the gateway the agent is gone, or,
    // when ZeroMQ reconnects to the hostile agent before the loss is seen, silent until the
    // execution's timeout (seen once in about ten runs). Either way the worker ends unread.
    const bool lost = r.status == 504 && reason_of(r) == "worker_lost";
    const bool timed_out = r.status == 503 && reason_of(r) == "timeout" && body_of(r)["session_kept"] == false;
    EXPECT_TRUE(lost || timed_out) << r.body;
    expect_fresh_session();
}

TEST_F(HostileAgentTest, AFloodOfBadlySignedFramesEndsTheWorker) {
    auto r = attack("bad_signatures");
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(reason_of(r), "protocol_violation");
    EXPECT_NE(body_of(r)["detail"].get<std::string>().find("failed verification"), std::string::npos) << r.body;
}

TEST_F(HostileAgentTest, AnswersToRequestsNeverSentAreAProtocolViolation) {
    auto r = attack("unsolicited");
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(reason_of(r), "protocol_violation");
}

TEST_F(HostileAgentTest, AFloodOfEventsDoesNotStarveOtherWorkers) {
    // A million well-formed events for a request that did not ask to stream: read and dropped, a
    // bounded number per turn; the execution never ends and meets its timeout (5 s here).
    auto r = attack("event_flood");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(reason_of(r), "timeout");
}

}  // namespace
}  // namespace ci::test
