// Execution scheduling: the bound on executions running at once never lets a long (sleeping)
// execution hold other sessions back, and store_history is off unless a request asks for it.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "api_helpers.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class SchedulingTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>(
            "sched", TestGatewayOptions{.min_idle = 3, .max_total = 4, .timeout_s = 30,
                                        .execution_toml = "max_running = 1\nrunning_slot_time = 0.1\n"});
    }
    static void TearDownTestSuite() { gateway_.reset(); }
    static std::string url() { return gateway_->url(""); }
    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(SchedulingTest, ALongExecutionDoesNotHoldTheOnlyRunningSlot) {
    const std::string sleeper = user_of(0x501), other = user_of(0x502);
    ASSERT_EQ(execute_as(url(), sleeper, "import time").status, 200);
    ASSERT_EQ(execute_as(url(), other, "n = 1").status, 200);
    // 11 s: also longer than any HTTP-layer timeout a request's wait must not trip (the HTTP
    // library counts its timeouts until the answer is sent).
    auto sleeping = std::async(std::launch::async, [&] { return execute_as(url(), sleeper, "time.sleep(11)\n'slept'"); });
    ASSERT_TRUE(wait_until([] { return status_of(url())["running_executions"] == 1; }, 5s, 10ms));
    auto asked = Clock::now();
    auto r = execute_as(url(), other, "n + 1");
    auto took = Clock::now() - asked;
    EXPECT_EQ(result_text(r), "2") << r.body;
    // Past running_slot_time the sleeper stops counting: the other session waits ~0.1 s, not 11 s.
    EXPECT_LT(took, 1500ms);
    EXPECT_EQ(result_text(sleeping.get()), "'slept'");
}

TEST_F(SchedulingTest, HistoryIsKeptOnlyWhenAsked) {
    const std::string user = user_of(0x503);
    auto body = [&](const std::string& code, bool store) {
        return nlohmann::json{{"user_uuid", user}, {"code", code}, {"store_history", store}}.dump();
    };
    auto post = [&](const std::string& code, bool store) {
        return http_request("POST", url() + "/execute", body(code, store), kUserToken);
    };
    ASSERT_EQ(result_text(execute_as(url(), user, "40 + 2")), "42");
    EXPECT_EQ(result_text(execute_as(url(), user, "_ + 1")), "43");  // `_` is kept either way
    std::string inputs = result_text(execute_as(url(), user, "len(In)"));
    EXPECT_EQ(result_text(execute_as(url(), user, "len(In)")), inputs);  // nothing recorded
    post("'a'", true);
    post("'b'", true);
    EXPECT_EQ(result_text(execute_as(url(), user, "Out[len(In) - 1]")), "'b'");
    auto bad = http_request("POST", url() + "/execute",
                            nlohmann::json{{"user_uuid", user}, {"code", "1"}, {"store_history", "yes"}}.dump(),
                            kUserToken);
    EXPECT_EQ(bad.status, 422);  // /execute answers as the original project does
    EXPECT_EQ(reason_of(bad), "validation_failed");
}

}  // namespace
}  // namespace ci::test
