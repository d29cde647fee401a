// The Docker daemon itself restarts under a running gateway (it stops every container on the way
// down): sessions learn their worker was lost, new sessions get 503 backend_unavailable while the
// daemon is away, the pool is rebuilt once it is back, and nothing is left behind. Its own test
// binary, run after the others, because it restarts the machine's dockerd.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "api_helpers.hpp"
#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool daemon_answers() { return run_command("docker info >/dev/null 2>&1").status == 0; }

bool start_daemon() { return run_command(CI_SOURCE_DIR "/scripts/ensure-dockerd.sh >/dev/null").status == 0; }

// Whatever the test's outcome, the machine gets its daemon back.
struct DaemonRestorer {
    ~DaemonRestorer() {
        if (!daemon_answers()) start_daemon();
    }
};

TEST(DockerdRestartTest, SessionsAndPoolRecoverWhenTheDaemonComesBack) {
    ASSERT_TRUE(daemon_answers());
    TestGateway gateway("dockerd", {.min_idle = 1, .max_total = 4, .timeout_s = 60});
    const std::string url = gateway.url("");
    const std::string user = user_of(0x401), newcomer = user_of(0x402);
    ASSERT_EQ(execute_as(url, user, "a = 1").status, 200);
    ASSERT_TRUE(wait_until([&] { return status_of(url)["idle_workers"] == 1; }, 60s));

    DaemonRestorer restore;
    auto stopping = Clock::now();
    ASSERT_EQ(run_command("pkill -TERM -x dockerd").status, 0);
    ASSERT_TRUE(wait_until([] { return run_command("pgrep -x dockerd >/dev/null").status != 0; }, 60s, 200ms));
    std::printf("[ dockerd  ] daemon stopped in %lld ms\n", ms_since(stopping));

    // Its containers went down with it: the session is over and says why; the pool cannot create.
    ASSERT_TRUE(wait_until([&] { return status_of(url)["condition"]["state"] == "backend_unavailable"; }, 20s))
        << status_of(url).dump();
    auto asked = Clock::now();
    auto r = execute_as(url, newcomer, "1");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(reason_of(r), "backend_unavailable") << r.body;
    EXPECT_LT(ms_since(asked), 3000);

    auto starting = Clock::now();
    ASSERT_TRUE(start_daemon());
    std::printf("[ dockerd  ] daemon answering again after %lld ms\n", ms_since(starting));
    auto back = Clock::now();
    ASSERT_TRUE(wait_until([&] { return execute_as(url, newcomer, "print('new')", 60).status == 200; }, 60s, 250ms))
        << status_of(url).dump();
    std::printf("[ dockerd  ] a new session ran %lld ms after the daemon answered\n", ms_since(back));

    r = execute_as(url, user, "print('a' in globals())");
    EXPECT_EQ(r.status, 200) << r.body;
    auto body = body_of(r);
    EXPECT_EQ(body["result_text"], "False\n") << r.body;
    EXPECT_EQ(body["new_session"], true) << r.body;
    EXPECT_EQ(body["previous_session"], "worker_lost") << r.body;
    EXPECT_TRUE(wait_until([&] { return status_of(url)["destroying_workers"] == 0; }, 30s)) << status_of(url).dump();

    gateway.stop();
    EXPECT_EQ(count_containers(gateway.instance()), 0);
    EXPECT_EQ(volume_leftovers(gateway.instance()), "");
}

}  // namespace
}  // namespace ci::test
