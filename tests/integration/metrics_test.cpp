// GET /metrics on the real stack: admin only, Prometheus text, counters that follow what happened.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "api_helpers.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using namespace std::chrono_literals;

// "name{labels}" -> value, from the exposition text; fails the test on any line that is neither
// a HELP/TYPE comment nor a sample.
std::map<std::string, double> parse_metrics(const std::string& text) {
    static const std::regex comment(R"(# (HELP|TYPE) ci_[a-z_]+ .+)");
    static const std::regex sample_line(R"((ci_[a-z_]+(\{[a-z]+="[^"]*"\})?) ([0-9.e+-]+))");
    std::map<std::string, double> samples;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (std::regex_match(line, comment)) continue;
        if (!std::regex_match(line, m, sample_line)) {
            ADD_FAILURE() << "not a Prometheus text line: " << line;
            continue;
        }
        samples[m[1]] = std::stod(m[3]);
    }
    return samples;
}

// The sample's value; a missing series fails the test.
double value(const std::map<std::string, double>& samples, const std::string& key) {
    auto it = samples.find(key);
    if (it == samples.end()) {
        ADD_FAILURE() << "no sample " << key;
        return -1;
    }
    return it->second;
}

std::map<std::string, double> metrics_of(const std::string& url) {
    auto r = http_request("GET", url + "/metrics", "", kAdminToken, 10);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse_metrics(r.body);
}

class MetricsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { gateway_ = new TestGateway("metrics", {.min_idle = 1, .max_total = 3}); }
    static void TearDownTestSuite() {
        delete gateway_;
        gateway_ = nullptr;
    }
    static std::string url() { return gateway_->url(""); }
    static TestGateway* gateway_;
};

TestGateway* MetricsTest::gateway_ = nullptr;

TEST_F(MetricsTest, NeedsTheAdminToken) {
    EXPECT_EQ(http_request("GET", url() + "/metrics").status, 401);
    EXPECT_EQ(http_request("GET", url() + "/metrics", "", kUserToken).status, 403);
    auto r = http_request("GET", url() + "/metrics", "", kAdminToken);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(r.body.back(), '\n');
}

TEST_F(MetricsTest, CountersFollowExecutionsAndCreations) {
    // The warm worker's creation is counted once its kernel answers.
    const std::string created = "ci_worker_creation_duration_seconds_count";
    ASSERT_TRUE(wait_until([&] { return value(metrics_of(url()), created) >= 1; }, 90s));

    const auto before = metrics_of(url());
    const std::string user = user_of(0x3101);
    constexpr int kOk = 3;
    for (int i = 0; i < kOk; ++i) ASSERT_EQ(execute_as(url(), user, "n = " + std::to_string(i)).status, 200);
    auto raised = execute_as(url(), user, "raise ValueError('counted')");
    ASSERT_EQ(raised.status, 200) << raised.body;

    const auto after = metrics_of(url());
    auto grew = [&](const std::string& key) { return value(after, key) - value(before, key); };
    EXPECT_EQ(grew("ci_executions_total{outcome=\"ok\"}"), kOk);
    EXPECT_EQ(grew("ci_executions_total{outcome=\"error\"}"), 1);
    EXPECT_EQ(grew("ci_execution_duration_seconds_count"), kOk + 1);
    EXPECT_GT(grew("ci_execution_duration_seconds_sum"), 0);
    EXPECT_EQ(value(after, "ci_execution_duration_seconds_bucket{le=\"+Inf\"}"),
              value(after, "ci_execution_duration_seconds_count"));
    EXPECT_GE(value(after, "ci_sessions"), 1);
    EXPECT_GE(value(after, "ci_workers{state=\"busy\"}"), 1);
    EXPECT_EQ(value(after, "ci_executions_running"), 0);
    EXPECT_GT(value(after, "ci_uptime_seconds"), 0);
    EXPECT_EQ(value(after, "ci_worker_creation_failures_total{kind=\"other\"}"), 0);
    // The session's worker was replaced in the pool: one more creation.
    EXPECT_TRUE(wait_until([&] { return value(metrics_of(url()), created) >= value(before, created) + 1; }, 90s));

    EXPECT_EQ(http_request("POST", url() + "/release", nlohmann::json{{"user_uuid", user}}.dump(), kUserToken).status,
              200);
}

TEST_F(MetricsTest, ApiErrorsAreCountedByReason) {
    const std::string user = user_of(0x3102);
    auto r = execute_as(url(), user, "import os\nos._exit(3)");
    // kernel_died (503); worker_lost (504) when the inspection finds the worker already stopped.
    ASSERT_TRUE(r.status == 503 || r.status == 504) << r.body;
    const std::string reason = reason_of(r);
    ASSERT_FALSE(reason.empty()) << r.body;
    EXPECT_EQ(value(metrics_of(url()), "ci_executions_total{outcome=\"" + reason + "\"}"), 1);
}

}  // namespace
}  // namespace ci::test
