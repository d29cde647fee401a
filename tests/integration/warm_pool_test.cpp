// Warm workers, on the real stack: every pool worker's kernel has imported worker.preload's modules
// before it counts as ready, without binding a name in the user's namespace; a module that cannot
// be imported fails the creation with a reason; refills run at the lowest CPU weight until leased.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json run(const TestGateway& gateway, const std::string& user, const std::string& code) {
    auto r = http_request("POST", gateway.url("/api/v1/execute"), json{{"user_uuid", user}, {"code", code}}.dump(),
                          kUserToken);
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 500);
    return body_of(r);
}

TEST(Preload, ANewSessionFindsTheDefaultModulesImportedAndNoNameBound) {
    TestGateway gateway("preload", {.min_idle = 1, .max_total = 2, .timeout_s = 30, .preload = true});
    ASSERT_TRUE(wait_until(
        [&] {
            const json status = status_of(gateway.url(""));
            return status.is_object() && status.value("idle_workers", 0) == 1;
        },
        60s));
    const json status = status_of(gateway.url(""));
    EXPECT_EQ(status["worker_start"]["preload"], json::array({"numpy", "pandas", "matplotlib.pyplot"}));
    EXPECT_GE(status["worker_start"]["samples"].get<int>(), 1);
    EXPECT_GT(status["worker_start"]["ready_ms_p50"].get<int>(), 0);

    json j = run(gateway, user_of(1),
                 "import sys, matplotlib\n"
                 "print([m for m in ('numpy', 'pandas', 'matplotlib.pyplot') if m in sys.modules])\n"
                 "print([n for n in ('np', 'pd', 'plt', 'numpy', 'pandas', 'ci_kernel') if n in globals()])\n"
                 "print(matplotlib.get_backend())");
    EXPECT_TRUE(j["error"].is_null()) << j["error"].dump();
    EXPECT_EQ(j["stdout"], "['numpy', 'pandas', 'matplotlib.pyplot']\n[]\n"
                           "module://matplotlib_inline.backend_inline\n");
    // The first plot of the session: an image, and no word from matplotlib about its cache.
    j = run(gateway, user_of(1), "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]); plt.show()");
    EXPECT_TRUE(j["error"].is_null()) << j["error"].dump();
    EXPECT_EQ(j["stderr"], "");
    ASSERT_EQ(j["outputs"].size(), 1u) << j["outputs"].dump().substr(0, 300);
    EXPECT_TRUE(j["outputs"][0]["data"].contains("image/png"));
}

TEST(Preload, AModuleThatCannotBeImportedFailsTheCreationWithItsReason) {
    TestGateway gateway("preload-bad", {.min_idle = 1, .max_total = 2, .timeout_s = 30,
                                        .worker_toml = "preload = [\"json\", \"ci_no_such_module\"]\n",
                                        .preload = true});
    std::string error;
    ASSERT_TRUE(wait_until(
        [&] {
            const json status = status_of(gateway.url(""));
            error = status.is_object() && status["last_worker_error"].is_string() ? status["last_worker_error"].get<std::string>() : "";
            return !error.empty();
        },
        60s));
    EXPECT_NE(error.find("a module of the preload list (worker.preload) cannot be imported"), std::string::npos)
        << error;
    EXPECT_EQ(status_of(gateway.url("")).value("idle_workers", -1), 0);
}

// Container id -> its CPU weight as the cgroup holds it (cpu.shares, or cgroup v2's cpu.weight).
std::map<std::string, std::string> cpu_weights(const std::string& instance) {
    std::map<std::string, std::string> weights;
    for (const auto& id : lines_of(command_output("docker ps -q --no-trunc --filter label=code-interpreter.instance=" +
                                                  instance))) {
        for (const std::string file : {"/sys/fs/cgroup/cpu/docker/" + id + "/cpu.shares",
                                       "/sys/fs/cgroup/cpu,cpuacct/docker/" + id + "/cpu.shares",
                                       "/sys/fs/cgroup/docker/" + id + "/cpu.weight",
                                       "/sys/fs/cgroup/system.slice/docker-" + id + ".scope/cpu.weight"}) {
            std::ifstream in(file);
            if (in && std::getline(in, weights[id])) break;
        }
    }
    return weights;
}

TEST(LowPriorityRefills, AnIdleWorkerRunsAtTheLowestWeightUntilASessionTakesIt) {
    TestGateway gateway("refill-weight", {.min_idle = 1, .max_total = 3, .timeout_s = 30});
    ASSERT_TRUE(wait_until(
        [&] {
            const json status = status_of(gateway.url(""));
            return status.is_object() && status.value("idle_workers", 0) == 1;
        },
        60s));
    auto before = cpu_weights(gateway.instance());
    ASSERT_EQ(before.size(), 1u);
    const std::string lowest = before.begin()->second;
    EXPECT_TRUE(lowest == "2" || lowest == "1") << "cpu weight of a refill: " << lowest;

    json j = run(gateway, user_of(1), "1 + 1");
    EXPECT_EQ(j["result_text"], "2");
    const auto after = cpu_weights(gateway.instance());
    ASSERT_TRUE(after.contains(before.begin()->first));
    const std::string leased = after.at(before.begin()->first);
    EXPECT_TRUE(leased == "1024" || leased == "100") << "cpu weight of a leased worker: " << leased;
}

}  // namespace
}  // namespace ci::test
