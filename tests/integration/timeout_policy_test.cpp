// on_timeout = "interrupt": a timed-out execution is interrupted and the session kept when the
// kernel comes back within the grace period; recycled when it does not.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

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

    static HttpResponse run(const std::string& user, const std::string& code) {
        return http_request("POST", gateway_->url("/execute"), json{{"user_uuid", user}, {"code", code}}.dump(),
                            kUserToken);
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(InterruptPolicyTest, AnInterruptibleExecutionKeepsTheSession) {
    const char* user = "12000000-0000-4000-8000-000000000012";
    ASSERT_EQ(run(user, "kept = 'yes'").status, 200);
    auto started = std::chrono::steady_clock::now();
    auto r = run(user, "while True:\n    pass");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_EQ(r.status, 503) << r.body;
    auto body = json::parse(r.body);
    EXPECT_EQ(body["reason"], "timeout");
    EXPECT_EQ(body["session_kept"], true) << r.body;
    auto after = run(user, "print(kept)");
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(json::parse(after.body)["result_text"], "yes\n");
    EXPECT_EQ(json::parse(after.body)["new_session"], false);
}

TEST_F(InterruptPolicyTest, AKernelThatIgnoresTheInterruptIsRecycled) {
    const char* user = "13000000-0000-4000-8000-000000000013";
    ASSERT_EQ(run(user, "kept = 'yes'").status, 200);
    auto r = run(user, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass");
    EXPECT_EQ(r.status, 503) << r.body;
    auto body = json::parse(r.body);
    EXPECT_EQ(body["reason"], "timeout");
    EXPECT_EQ(body["session_kept"], false) << r.body;
    auto after = run(user, "print('kept' in globals())");
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(json::parse(after.body)["result_text"], "False\n");
}

}  // namespace
}  // namespace ci::test
