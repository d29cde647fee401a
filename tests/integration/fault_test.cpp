// Faults during an execution are answered at once, not at the execution timeout, and the next
// call gets a fresh session.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using Clock = std::chrono::steady_clock;

class FaultTest : public ::testing::Test {
protected:
    // A long execution timeout: a fault answered before it was detected, not timed out.
    static void SetUpTestSuite() { gateway_ = std::make_unique<TestGateway>("fault", TestGatewayOptions{.min_idle = 2, .max_total = 6, .timeout_s = 60}); }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    static std::string url() { return gateway_->url(""); }

    static std::string text(const std::string& user, const std::string& code) {
        auto r = execute_as(url(), user, code);
        EXPECT_EQ(r.status, 200) << r.body;
        auto j = body_of(r);
        return j.is_object() && j["result_text"].is_string() ? j["result_text"].get<std::string>() : "";
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(FaultTest, KernelDeathIsAnsweredAtOnceWithItsReason) {
    const char* user = "d0000000-0000-4000-8000-00000000000d";
    text(user, "kept = 1");
    auto started = Clock::now();
    auto r = execute_as(url(), user, "import os\nos._exit(3)");
    auto took = Clock::now() - started;
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(reason_of(r), "kernel_died") << r.body;
    EXPECT_NE(body_of(r)["detail"].get<std::string>().find("exit status 3"), std::string::npos) << r.body;
    EXPECT_LT(took, std::chrono::seconds(5));
    EXPECT_EQ(text(user, "print('kept' in globals())"), "False\n");
}

TEST_F(FaultTest, ContainerKilledMidExecutionIsAnsweredAtOnce) {
    const char* user = "e0000000-0000-4000-8000-00000000000e";
    std::string cgroup = text(user, "print(open('/proc/self/cgroup').read())");
    std::smatch match;
    ASSERT_TRUE(std::regex_search(cgroup, match, std::regex("docker[/-]([0-9a-f]{64})"))) << cgroup;
    std::string container = match[1];

    auto running =
        std::async(std::launch::async, [&] { return execute_as(url(), user, "import time\ntime.sleep(50)"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto killed_at = Clock::now();
    ASSERT_EQ(std::system(("docker kill " + container + " >/dev/null").c_str()), 0);
    auto r = running.get();
    auto took = Clock::now() - killed_at;
    EXPECT_EQ(r.status, 504) << r.body;
    EXPECT_EQ(reason_of(r), "worker_lost") << r.body;
    EXPECT_LT(took, std::chrono::seconds(3));
    EXPECT_EQ(text(user, "print('fresh')"), "fresh\n");
}

}  // namespace
}  // namespace ci::test
