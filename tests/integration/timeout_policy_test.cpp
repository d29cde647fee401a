// on_timeout = "interrupt": a timed-out execution is interrupted and the session kept when the
// kernel comes back within the grace period; recycled when it does not.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

class InterruptPolicyTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>(
            "intr", TestGatewayOptions{.min_idle = 1, .max_total = 4, .timeout_s = 2,
                                       .execution_toml = "on_timeout = \"interrupt\"\ninterrupt_grace = 3"});
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
    }

    static std::string url() { return gateway_->url(""); }

    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(InterruptPolicyTest, AnInterruptibleExecutionKeepsTheSession) {
    const char* user = "12000000-0000-4000-8000-000000000012";
    ASSERT_EQ(execute_as(url(), user, "kept = 'yes'").status, 200);
    auto started = std::chrono::steady_clock::now();
    auto r = execute_as(url(), user, "while True:\n    pass");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_EQ(r.status, 503) << r.body;
    auto body = body_of(r);
    EXPECT_EQ(body["reason"], "timeout");
    EXPECT_EQ(body["session_kept"], true) << r.body;
    auto after = execute_as(url(), user, "print(kept)");
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(body_of(after)["result_text"], "yes\n");
    EXPECT_EQ(body_of(after)["new_session"], false);
}

TEST_F(InterruptPolicyTest, AKernelThatIgnoresTheInterruptIsRecycled) {
    const char* user = "13000000-0000-4000-8000-000000000013";
    ASSERT_EQ(execute_as(url(), user, "kept = 'yes'").status, 200);
    auto r =
        execute_as(url(), user, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass");
    EXPECT_EQ(r.status, 503) << r.body;
    auto body = body_of(r);
    EXPECT_EQ(body["reason"], "timeout");
    EXPECT_EQ(body["session_kept"], false) << r.body;
    auto after = execute_as(url(), user, "print('kept' in globals())");
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(body_of(after)["result_text"], "False\n");
}

}  // namespace
}  // namespace ci::test
