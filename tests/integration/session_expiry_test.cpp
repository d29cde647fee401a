// Sessions past their idle timeout or lifetime are ended by the reaper; the user's next call starts
// a fresh session and its answer says how the previous one ended.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

json execute(const TestGateway& gateway, const std::string& user, const std::string& code) {
    auto r = execute_as(gateway.url(""), user, code);
    EXPECT_EQ(r.status, 200) << r.body;
    return body_of(r);
}

int sessions(const TestGateway& gateway) { return status_of(gateway.url(""))["sessions"].get<int>(); }

const char* const kUser = "f0000000-0000-4000-8000-00000000000f";

TEST(SessionExpiry, AnIdleSessionEndsAndTheNextCallIsToldItIsNew) {
    TestGatewayOptions options{.min_idle = 1, .max_total = 4, .timeout_s = 30};
    options.pool_toml = "session_idle_timeout = 1.5";
    TestGateway gateway("idle", options);
    auto first = execute(gateway, kUser, "x = 1");
    EXPECT_EQ(first["new_session"], true);
    EXPECT_EQ(first["previous_session"], nullptr);
    // Used again within the timeout: the same session.
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    auto second = execute(gateway, kUser, "print(x)");
    EXPECT_EQ(second["result_text"], "1\n");
    EXPECT_EQ(second["new_session"], false);
    EXPECT_EQ(sessions(gateway), 1);

    // Idle 1.5 s, plus up to one reaper pass (0.5 s), plus margin for a loaded machine.
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    EXPECT_EQ(sessions(gateway), 0);
    auto after = execute(gateway, kUser, "print('x' in globals())");
    EXPECT_EQ(after["result_text"], "False\n");
    EXPECT_EQ(after["new_session"], true);
    EXPECT_EQ(after["previous_session"], "expired_idle");
    EXPECT_EQ(execute(gateway, kUser, "1")["previous_session"], nullptr);
}

TEST(SessionExpiry, ASessionEndsAtItsMaximumLifetimeEvenWhenBusy) {
    TestGatewayOptions options{.min_idle = 1, .max_total = 4, .timeout_s = 30};
    options.pool_toml = "session_idle_timeout = 0\nsession_max_lifetime = 2";
    TestGateway gateway("life", options);
    execute(gateway, kUser, "y = 1");
    // Kept busy past its lifetime: the running execution finishes, then the session ends.
    auto busy = execute(gateway, kUser, "import time\ntime.sleep(2.5)\nprint(y)");
    EXPECT_EQ(busy["result_text"], "1\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    auto after = execute(gateway, kUser, "print('y' in globals())");
    EXPECT_EQ(after["result_text"], "False\n");
    EXPECT_EQ(after["previous_session"], "expired_lifetime");
}

}  // namespace
}  // namespace ci::test
