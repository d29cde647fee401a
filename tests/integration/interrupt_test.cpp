// POST /api/v1/interrupt on the real stack: a long execution stops with 409 "interrupted", its
// session and variables stay, and what was queued behind it still runs.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class InterruptTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>("irq", TestGatewayOptions{.min_idle = 1, .max_total = 3, .timeout_s = 60});
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
    }

    static HttpResponse interrupt(const std::string& user) {
        return http_request("POST", gateway_->url("/api/v1/interrupt"), json{{"user_uuid", user}}.dump(), kUserToken);
    }
    static std::string url() { return gateway_->url(""); }
    static int status_count(const char* field) {
        auto status = status_of(url());
        return status.is_object() ? status.value(field, 0) : 0;
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(InterruptTest, AnInterruptedExecutionAnswers409KeepsTheSessionAndTheQueueRuns) {
    const std::string user = user_of(101);
    ASSERT_EQ(execute_as(url(), user, "kept = 'yes'").status, 200);
    auto started = std::chrono::steady_clock::now();
    auto sleeping = std::async(std::launch::async, [&] {
        return execute_as(url(), user, "import time\nprint('started', flush=True)\ntime.sleep(50)");
    });
    ASSERT_TRUE(wait_until([&] { return status_count("running_executions") == 1; }, 20s));
    auto queued = std::async(std::launch::async, [&] { return execute_as(url(), user, "print(kept + ' queued')"); });
    ASSERT_TRUE(wait_until([&] { return status_count("queued_executions") == 1; }, 20s));
    std::this_thread::sleep_for(500ms);  // the kernel is inside time.sleep, past the print

    auto answer = interrupt(user);
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(body_of(answer), (json{{"status", "ok"}, {"interrupted", true}}));

    auto stopped = sleeping.get();
    EXPECT_LT(ms_since(started), 30'000) << "the interrupt did not stop the sleep";
    EXPECT_EQ(stopped.status, 409) << stopped.body;
    auto body = body_of(stopped);
    EXPECT_EQ(body["reason"], "interrupted");
    EXPECT_EQ(body["session_kept"], true);
    EXPECT_EQ(body["stdout"], "started\n");
    EXPECT_EQ(body["error"]["ename"], "KeyboardInterrupt") << stopped.body;

    auto after_queue = queued.get();
    ASSERT_EQ(after_queue.status, 200) << after_queue.body;
    EXPECT_EQ(result_text(after_queue), "yes queued\n");
    auto again = execute_as(url(), user, "print(kept)");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(result_text(again), "yes\n");
    EXPECT_EQ(body_of(again)["new_session"], false);
}

TEST_F(InterruptTest, NothingRunningAnswersFalseAndNoSessionAnswers404) {
    const std::string user = user_of(102);
    auto none = interrupt(user);
    EXPECT_EQ(none.status, 404) << none.body;
    EXPECT_EQ(reason_of(none), "not_found");
    ASSERT_EQ(execute_as(url(), user, "x = 1").status, 200);
    auto idle = interrupt(user);
    ASSERT_EQ(idle.status, 200) << idle.body;
    EXPECT_EQ(body_of(idle)["interrupted"], false);
    auto still = execute_as(url(), user, "print(x)");
    EXPECT_EQ(result_text(still), "1\n");
}

}  // namespace
}  // namespace ci::test
