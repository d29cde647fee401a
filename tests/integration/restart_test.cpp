// Restart recovery: a gateway that stops with keep_workers_on_stop, or crashes, is followed by
// one that adopts the live workers, so users keep their kernels and variables; workers that
// cannot be adopted are removed, and a clean stop removes everything.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>

#include "api_helpers.hpp"
#include "gateway_process.hpp"
#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The container id of the user's worker, read from inside it.
std::string container_of(const std::string& url, const std::string& user) {
    auto r = execute_as(url, user, "print(open('/proc/self/cgroup').read())");
    std::smatch m;
    std::string text = result_text(r);
    return std::regex_search(text, m, std::regex("docker[/-]([0-9a-f]{64})")) ? m[1].str() : "";
}

void expect_nothing_left(const std::string& instance) {
    EXPECT_EQ(count_containers(instance), 0);
    EXPECT_EQ(volume_leftovers(instance), "");
    EXPECT_FALSE(std::filesystem::exists(state_file_of(instance)));
}

TEST(RestartTest, KeptWorkersAreAdoptedWithTheirSessions) {
    const TestGatewayOptions keep{.min_idle = 1, .max_total = 4, .keep_workers_on_stop = true};
    const std::string kept = user_of(0x101), lost = user_of(0x102);
    auto first = std::make_unique<TestGateway>("restart", keep);
    const std::string instance = first->instance();
    ASSERT_EQ(execute_as(first->url(""), kept, "x = 41").status, 200);
    ASSERT_EQ(execute_as(first->url(""), lost, "y = 1").status, 200);
    const std::string lost_container = container_of(first->url(""), lost);
    ASSERT_FALSE(lost_container.empty());
    first->stop();
    // Both sessions' workers outlive the gateway (and the idle one, unless it was still starting).
    EXPECT_GE(count_containers(instance), 2);
    EXPECT_TRUE(std::filesystem::exists(state_file_of(instance)));
    // One dies while no gateway watches: it cannot be adopted.
    run_command("docker kill " + lost_container + " >/dev/null 2>&1");
    first.reset();

    auto started = Clock::now();
    TestGateway second("restart", {.min_idle = 1, .max_total = 4});
    std::printf("[ restart  ] the second gateway adopted and started in %lld ms\n", ms_since(started));

    auto r = execute_as(second.url(""), kept, "x + 1");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(result_text(r), "42");
    EXPECT_EQ(body_of(r)["new_session"], false) << r.body;

    r = execute_as(second.url(""), lost, "print('y' in globals())");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(result_text(r), "False\n");
    EXPECT_EQ(body_of(r)["new_session"], true) << r.body;
    EXPECT_EQ(body_of(r)["previous_session"], "lost_at_restart") << r.body;

    second.stop();
    expect_nothing_left(instance);
}

TEST(RestartTest, ACrashedGatewaysSessionsSurviveItsSuccessor) {
    const std::string instance = instance_name("crash");
    const std::string toml = gateway_toml(instance, {.min_idle = 1, .max_total = 4});
    const std::string user = user_of(0x201);
    {
        GatewayProcess crashing("crash-1", toml);
        auto r = execute_as(crashing.url(""), user, "import numpy as np\nv = np.arange(5)");
        ASSERT_EQ(r.status, 200) << r.body;
        crashing.kill_hard();
    }
    EXPECT_GE(count_containers(instance), 2);
    {
        GatewayProcess successor("crash-2", toml);
        auto r = execute_as(successor.url(""), user, "int(v.sum())");
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(result_text(r), "10") << successor.log();
        EXPECT_EQ(body_of(r)["new_session"], false) << r.body;
        EXPECT_EQ(successor.terminate(), 0) << successor.log();
    }
    std::filesystem::remove(run_dir_of(instance));
    expect_nothing_left(instance);
}

TEST(RestartTest, WorkersMissingFromTheStateFileAreRemoved) {
    const TestGatewayOptions keep{.min_idle = 2, .max_total = 4, .keep_workers_on_stop = true};
    auto first = std::make_unique<TestGateway>("orphans", keep);
    const std::string instance = first->instance();
    ASSERT_TRUE(wait_until([&] { return status_of(first->url(""))["idle_workers"] == 2; }, 60s));
    first.reset();
    ASSERT_EQ(count_containers(instance), 2);
    // Without the state file (lost, or from another run) no worker's key is known.
    std::filesystem::remove(state_file_of(instance));

    TestGateway second("orphans", {.min_idle = 0, .max_total = 4});
    EXPECT_EQ(count_containers(instance), 0);
    EXPECT_EQ(volume_leftovers(instance), "");
    second.stop();
    expect_nothing_left(instance);
}

}  // namespace
}  // namespace ci::test
