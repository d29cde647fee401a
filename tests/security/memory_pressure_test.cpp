// Memory pressure on the real stack (issue 14, item 8): an allocation too large for the worker
// raises MemoryError in the user's code, and the session keeps its variables, instead of the
// container's OOM killer ending the whole worker. The kernel's RLIMIT_DATA does it
// (worker/agent/.../memory_limit.hpp); the hard OOM path, for what escapes it, stays tested by
// SecurityTest.MemoryBombEndsOnlyThatWorker (a worker smaller than the limit's floor).
#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

// worker.ram_mb's default (config.toml), stated so the figures below stay true if it changes.
constexpr std::uint64_t kRamMb = 1024;
// The kernel's RLIMIT_DATA for it: 64 MiB below the container's limit.
constexpr std::uint64_t kDataLimitMb = kRamMb - 64;

class MemoryPressureTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>(
            "mem", TestGatewayOptions{.min_idle = 1, .max_total = 4, .timeout_s = 60,
                                      .worker_toml = "ram_mb = " + std::to_string(kRamMb) + "\n"});
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(count_networks(instance), 0);
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    // POST /api/v1/execute; the answer's status and body.
    static HttpResponse post(const std::string& user, const std::string& code) {
        return http_request("POST", gateway_->url("/api/v1/execute"),
                            json{{"user_uuid", user}, {"code", code}}.dump(), kUserToken, 90);
    }
    // Runs code that must answer 200; returns the body.
    static json run(const std::string& user, const std::string& code) {
        auto r = post(user, code);
        EXPECT_EQ(r.status, 200) << r.body.substr(0, 500);
        return body_of(r);
    }
    static std::string stdout_of(const json& body) {
        return body.is_object() && body["stdout"].is_string() ? body["stdout"].get<std::string>() : "";
    }
    // The exception's name, message and last traceback line: "" when there was none.
    static std::string error_of(const json& body) {
        if (!body.is_object() || !body["error"].is_object()) return "";
        const json& e = body["error"];
        std::string text = e.value("ename", "") + ": " + e.value("evalue", "");
        if (e["traceback"].is_array() && !e["traceback"].empty() && e["traceback"].back().is_string())
            text += "\n" + e["traceback"].back().get<std::string>();
        return text;
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(MemoryPressureTest, TwiceTheWorkersRamRaisesMemoryErrorAndTheSessionKeepsItsVariables) {
    const std::string user = user_of(801);
    json before = run(user, "kept = 'still here'\nimport resource\n"
                            "print(resource.getrlimit(resource.RLIMIT_DATA))");
    EXPECT_EQ(stdout_of(before), "(" + std::to_string(kDataLimitMb << 20) + ", " +
                                     std::to_string(kDataLimitMb << 20) + ")\n")
        << before.dump();

    json big = run(user, "x = bytearray(" + std::to_string(2 * kRamMb) + " << 20)");
    EXPECT_NE(error_of(big).find("MemoryError"), std::string::npos) << big.dump().substr(0, 800);
    EXPECT_EQ(big.value("new_session", true), false) << big.dump().substr(0, 800);

    // Same kernel, same variables; the failed assignment left nothing.
    json after = run(user, "print(kept, 'x' in globals())");
    EXPECT_EQ(stdout_of(after), "still here False\n") << after.dump();
    EXPECT_EQ(after.value("new_session", true), false);
    EXPECT_EQ(error_of(after), "");

    // User code may lower its limit but never raise it.
    json raise = run(user, "import resource\n"
                           "try:\n"
                           "    resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY,) * 2)\n"
                           "    print('RAISED')\n"
                           "except (ValueError, OSError) as e:\n"
                           "    print('refused', type(e).__name__)");
    EXPECT_EQ(stdout_of(raise), "refused ValueError\n") << raise.dump();
}

// Allocations that each fit but together do not: the fill stops with MemoryError before the
// container's limit, so the OOM killer never comes (the margin below the limit is enough), and
// what the fill held is free again afterwards.
TEST_F(MemoryPressureTest, AGradualFillStopsWithMemoryErrorBeforeTheOomKiller) {
    const std::string user = user_of(802);
    run(user, "kept = 42");
    const std::string fill = R"(
blocks = []
try:
    while True:
        blocks.append(bytearray(32 << 20))
except MemoryError:
    filled = len(blocks) * 32
del blocks
print('stopped at', filled, 'MiB', filled >= 512)
)";
    for (int round = 0; round < 2; ++round) {
        auto r = post(user, fill);
        ASSERT_EQ(r.status, 200) << "round " << round << ": " << r.body.substr(0, 500);
        json body = body_of(r);
        EXPECT_NE(stdout_of(body).find("MiB True\n"), std::string::npos) << body.dump();
        EXPECT_EQ(error_of(body), "") << body.dump().substr(0, 800);
        EXPECT_EQ(body.value("new_session", true), false);
        std::cout << "  round " << round << ": " << stdout_of(body);
    }
    EXPECT_EQ(stdout_of(run(user, "print(kept)")), "42\n");
}

TEST_F(MemoryPressureTest, NumpyPandasAndMatplotlibWorkUnderTheLimit) {
    const std::string user = user_of(803);
    json body = run(user, R"(
import io
import numpy as np
import pandas as pd
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
print('numpy', np.ones(10**6).sum(), float((np.ones((300, 300)) @ np.ones((300, 300)))[0, 0]))
df = pd.DataFrame({'k': np.arange(100000) % 7, 'v': np.arange(100000, dtype=float)})
print('pandas', len(df.groupby('k')['v'].sum()), int(df['v'].mean()))
fig, ax = plt.subplots()
ax.plot(np.arange(100), np.sin(np.arange(100) / 10))
png = io.BytesIO()
fig.savefig(png, format='png')
plt.close(fig)
print('matplotlib', png.getvalue()[:8] == b'\x89PNG\r\n\x1a\n', png.tell() > 1000)
)");
    EXPECT_EQ(stdout_of(body), "numpy 1000000.0 300.0\npandas 7 49999\nmatplotlib True True\n") << body.dump();
    EXPECT_EQ(error_of(body), "") << body.dump().substr(0, 800);

    // numpy's own too-large array fails as MemoryError too (its _ArrayMemoryError), and the
    // libraries keep working after it.
    json big = run(user, "a = np.empty(" + std::to_string(2 * kRamMb) + " << 17)");  // 8-byte floats
    EXPECT_NE(error_of(big).find("MemoryError"), std::string::npos) << big.dump().substr(0, 800);
    json after = run(user, "print(np.ones(10**6).sum(), len(df), 'a' in globals())");
    EXPECT_EQ(stdout_of(after), "1000000.0 100000 False\n") << after.dump();
}

}  // namespace
}  // namespace ci::test
