// Churning workers (sessions released mid-execution, containers killed while being created, while
// idle and while executing, executions timed out) leaves nothing of the instance behind once the
// gateway stops: no container, network, mount, loop device, volume image or run dir.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kMaxTotal = 6;
constexpr int kMinIdle = 2;
constexpr long kExecuteClientTimeoutS = 45;  // below acquire_timeout (60 s): a hang fails, it does not wait
constexpr long kAdminClientTimeoutS = 5;

std::set<std::string> running_containers(const std::string& instance) {
    std::istringstream lines(
        run_command("docker ps -q --no-trunc --filter label=code-interpreter.instance=" + instance + " 2>/dev/null")
            .output);
    std::set<std::string> ids;
    for (std::string id; std::getline(lines, id);)
        if (!id.empty()) ids.insert(id);
    return ids;
}

bool docker_kill(const std::string& id) { return std::system(("docker kill " + id + " >/dev/null 2>&1").c_str()) == 0; }

std::size_t count_entries(const std::string& dir, const std::string& prefix = "") {
    std::error_code ec;
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (e.path().filename().string().rfind(prefix, 0) == 0) ++n;
    return n;
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
    std::istringstream lines(text);
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(prefix, 0) == 0) ++n;
    return n;
}

class LeakTest : public ::testing::Test {
protected:
    void SetUp() override {
        gateway_ = std::make_unique<TestGateway>(
            "leak", TestGatewayOptions{.min_idle = kMinIdle,
                                       .max_total = kMaxTotal,
                                       .timeout_s = 3,
                                       // A container killed before its agent listens is only noticed
                                       // at this deadline (see the mid-creation phase).
                                       .pool_toml = "create_concurrency = 3\nworker_start_timeout = 15\n"});
        instance_ = gateway_->instance();
    }

    void TearDown() override {
        stop_sampler();
        gateway_.reset();
    }

    // Transport errors (a client timeout: a hang) come back as status 0 with the error as body.
    HttpResponse execute(const std::string& user, const std::string& code) const {
        return execute_as(gateway_->url(""), user, code, kExecuteClientTimeoutS);
    }

    // A client's behaviour: a 503 pool_exhausted (Retry-After) is retried, within a bound.
    HttpResponse execute_retrying(const std::string& user, const std::string& code) {
        auto until = Clock::now() + 40s;
        for (;;) {
            HttpResponse r = execute(user, code);
            if (r.status != 503 || reason_of(r) != "pool_exhausted" || Clock::now() >= until) return r;
            ++pool_exhausted_retries_;
            std::this_thread::sleep_for(300ms);
        }
    }

    HttpResponse release(const std::string& user) const {
        try {
            return http_request("POST", gateway_->url("/release"), json{{"user_uuid", user}}.dump(), kUserToken,
                                kAdminClientTimeoutS);
        } catch (const std::exception& e) {
            return HttpResponse{0, e.what(), {}};
        }
    }

    // {} when /status does not answer with an object.
    json status() const {
        json j = status_of(gateway_->url(""));
        return j.is_object() ? j : json::object();
    }

    static int field(const json& j, const char* name) { return j.contains(name) && j[name].is_number_integer() ? j[name].get<int>() : -1; }

    static std::string result_text(const HttpResponse& r) {
        json j = json::parse(r.body, nullptr, false);
        return j.is_object() && j.contains("result_text") && j["result_text"].is_string() ? j["result_text"].get<std::string>()
                                                                                          : "";
    }

    static bool new_session(const HttpResponse& r) {
        json j = json::parse(r.body, nullptr, false);
        return j.is_object() && j.value("new_session", false);
    }

    // Samples /status all along: total_workers must never exceed max_total_workers.
    void start_sampler() {
        sampler_ = std::thread([this] {
            while (!sampler_stop_) {
                json s = status();
                int total = field(s, "total_workers");
                if (total >= 0) {
                    std::lock_guard lock(mu_);
                    ++samples_;
                    max_total_seen_ = std::max(max_total_seen_, total);
                    int limit = s["limits"].value("max_total_workers", -1);
                    if (limit != kMaxTotal || total > limit) over_limit_.push_back(s.dump());
                }
                std::this_thread::sleep_for(50ms);
            }
        });
    }
    void stop_sampler() {
        sampler_stop_ = true;
        if (sampler_.joinable()) sampler_.join();
    }

    bool pool_settled() const {
        json s = status();
        return field(s, "idle_workers") == kMinIdle && field(s, "total_workers") == kMinIdle &&
               field(s, "sessions") == 0 && field(s, "busy_workers") == 0 && field(s, "creating_workers") == 0 &&
               field(s, "destroying_workers") == 0 && field(s, "waiting_sessions") == 0 &&
               field(s, "running_executions") == 0 && field(s, "queued_executions") == 0;
    }

    std::unique_ptr<TestGateway> gateway_;
    std::string instance_;
    std::thread sampler_;
    std::atomic<bool> sampler_stop_{false};
    std::mutex mu_;
    int samples_ = 0;
    int max_total_seen_ = 0;
    std::vector<std::string> over_limit_;
    std::atomic<int> pool_exhausted_retries_{0};
};

TEST_F(LeakTest, WorkerChurnLeavesNothingBehind) {
    const auto test_started = Clock::now();
    auto phase_started = test_started;
    auto phase_done = [&](const char* name) {
        auto now = Clock::now();
        std::printf("[ leak     ] %-28s %6lld ms\n", name,
                    static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(now - phase_started).count()));
        std::fflush(stdout);
        phase_started = now;
    };
    start_sampler();
    ASSERT_TRUE(wait_until([&] { return field(status(), "idle_workers") >= kMinIdle; }, 40s)) << status().dump();
    phase_done("warm pool");

    // --- Containers killed while being created. Two sessions lease the two idle workers; the
    // replacements the pool starts are killed as soon as docker lists them. The leased workers
    // are untouched, and the pool recovers.
    {
        const std::string a = user_of(0xa1), b = user_of(0xa2);
        std::set<std::string> known = running_containers(instance_);
        ASSERT_EQ(known.size(), static_cast<std::size_t>(kMinIdle));
        ASSERT_EQ(execute(a, "k = 'a'").status, 200);
        ASSERT_EQ(execute(b, "k = 'b'").status, 200);

        constexpr int kKills = 3;
        int killed = 0, max_docker = 0;
        auto until = Clock::now() + 45s;
        while (killed < kKills && Clock::now() < until) {
            std::set<std::string> now = running_containers(instance_);
            max_docker = std::max(max_docker, static_cast<int>(now.size()));
            std::vector<std::string> fresh;
            for (const auto& id : now)
                if (!known.count(id)) fresh.push_back(id);
            // Nobody waits for a worker here: every new container is a replacement being created
            // (one that appears with no creation under way is already idle: left alone).
            if (!fresh.empty()) {
                bool creating = field(status(), "creating_workers") > 0;
                for (const auto& id : fresh) {
                    if (creating && killed < kKills && docker_kill(id)) ++killed;
                    known.insert(id);
                }
            }
            std::this_thread::sleep_for(20ms);
        }
        EXPECT_EQ(killed, kKills) << "the pool did not create replacements to kill";
        EXPECT_LE(max_docker, kMaxTotal);

        // Recovery: idle workers again (the creation back-off is at most a few seconds here).
        EXPECT_TRUE(wait_until([&] { return field(status(), "idle_workers") >= kMinIdle; }, 40s)) << status().dump();
        EXPECT_TRUE(status()["last_worker_error"].is_null()) << status().dump();
        // The leased workers were not the ones killed.
        auto ra = execute(a, "print(k)");
        EXPECT_EQ(ra.status, 200) << ra.body;
        EXPECT_EQ(result_text(ra), "a\n");
        auto rb = execute(b, "print(k)");
        EXPECT_EQ(rb.status, 200) << rb.body;
        EXPECT_EQ(result_text(rb), "b\n");
        EXPECT_EQ(release(a).status, 200);
        EXPECT_EQ(release(b).status, 200);

        // Later executions on fresh workers succeed.
        const std::string c = user_of(0xa3);
        auto rc = execute_retrying(c, "print(6 * 7)");
        EXPECT_EQ(rc.status, 200) << rc.body;
        EXPECT_EQ(result_text(rc), "42\n");
        EXPECT_EQ(release(c).status, 200);
    }
    phase_done("killed while creating");

    // --- A container killed while idle is replaced.
    {
        ASSERT_TRUE(wait_until([&] { return field(status(), "idle_workers") >= kMinIdle; }, 40s)) << status().dump();
        ASSERT_TRUE(wait_until([&] { return pool_settled(); }, 20s)) << status().dump();
        std::set<std::string> idle = running_containers(instance_);
        ASSERT_EQ(idle.size(), static_cast<std::size_t>(kMinIdle));
        const std::string victim = *idle.begin();
        ASSERT_TRUE(docker_kill(victim));
        EXPECT_TRUE(wait_until(
            [&] {
                return run_command("docker ps -aq --no-trunc --filter id=" + victim).output.empty() && pool_settled();
            },
            30s))
            << status().dump();
    }
    phase_done("killed while idle");

    // --- Twelve sessions, three at a time: each executes and is released; some are released
    // while an execution runs (409 session_released, or 200 if it finished first).
    {
        std::atomic<int> released_mid_run{0};
        auto one_session = [&](int n) -> std::vector<std::string> {
            std::vector<std::string> failures;
            auto expect = [&](bool ok, const std::string& what) {
                if (!ok) failures.push_back("session " + std::to_string(n) + ": " + what);
            };
            const std::string user = user_of(0x100 + n);
            if (n % 4 == 1 || n % 4 == 3) {
                if (n % 4 == 1) {
                    // Warm: the session has its worker before the long execution starts.
                    auto warm = execute_retrying(user, "x = 1");
                    expect(warm.status == 200, "warm-up " + std::to_string(warm.status) + " " + warm.body);
                }
                auto running = std::async(std::launch::async,
                                          [&] { return execute_retrying(user, "import time\ntime.sleep(2)\nprint('done')"); });
                std::this_thread::sleep_for(200ms);
                auto rel = release(user);
                expect(rel.status == 200 || rel.status == 404, "release " + std::to_string(rel.status) + " " + rel.body);
                auto r = running.get();
                expect(r.status == 200 || (r.status == 409 && reason_of(r) == "session_released"),
                       "execute under release " + std::to_string(r.status) + " " + r.body);
                if (r.status == 409) ++released_mid_run;
                auto again = release(user);  // the session, if the release came before it existed
                expect(again.status == 200 || again.status == 404, "second release " + std::to_string(again.status));
            } else {
                auto r = execute_retrying(user, "print(" + std::to_string(n) + " * 2)");
                expect(r.status == 200, "execute " + std::to_string(r.status) + " " + r.body);
                expect(result_text(r) == std::to_string(n * 2) + "\n", "result " + r.body);
                expect(new_session(r), "not a new session: " + r.body);
                auto rel = release(user);
                expect(rel.status == 200, "release " + std::to_string(rel.status) + " " + rel.body);
            }
            return failures;
        };
        for (int batch = 0; batch < 4; ++batch) {
            std::vector<std::future<std::vector<std::string>>> sessions;
            for (int i = 0; i < 3; ++i)
                sessions.push_back(std::async(std::launch::async, one_session, batch * 3 + i));
            for (auto& s : sessions)
                for (const auto& failure : s.get()) ADD_FAILURE() << failure;
        }
        // Sessions 1, 5, 9 were released 200 ms into a 2 s execution on a warm worker.
        EXPECT_GE(released_mid_run.load(), 1);
        std::printf("[ leak     ] released mid-run: %d, pool_exhausted retries: %d\n", released_mid_run.load(),
                    pool_exhausted_retries_.load());
    }
    phase_done("12 sessions");

    // --- A container killed while it executes: 504 worker_lost at once; the next call is fresh.
    {
        const std::string user = user_of(0xc1);
        auto first = execute_retrying(user, "print(open('/proc/self/cgroup').read())");
        ASSERT_EQ(first.status, 200) << first.body;
        std::string cgroup = result_text(first);
        std::smatch match;
        ASSERT_TRUE(std::regex_search(cgroup, match, std::regex("docker[/-]([0-9a-f]{64})"))) << cgroup;
        const std::string container = match[1];
        auto running = std::async(std::launch::async, [&] { return execute(user, "import time\ntime.sleep(50)"); });
        EXPECT_TRUE(wait_until([&] { return field(status(), "running_executions") >= 1; }, 10s, 20ms));
        std::this_thread::sleep_for(200ms);  // into the kernel, not just sent
        auto killed_at = Clock::now();
        ASSERT_TRUE(docker_kill(container));
        auto r = running.get();
        auto took = Clock::now() - killed_at;
        EXPECT_EQ(r.status, 504) << r.body;
        EXPECT_EQ(reason_of(r), "worker_lost") << r.body;
        EXPECT_LT(took, 5s);
        auto fresh = execute_retrying(user, "print('fresh')");
        EXPECT_EQ(fresh.status, 200) << fresh.body;
        EXPECT_EQ(result_text(fresh), "fresh\n");
        EXPECT_TRUE(new_session(fresh)) << fresh.body;
        EXPECT_EQ(release(user).status, 200);
    }
    phase_done("killed while executing");

    // --- Executions past the 3 s timeout: 503 timeout, the worker recycled.
    {
        auto timed_out = [&](int n) -> std::vector<std::string> {
            std::vector<std::string> failures;
            auto expect = [&](bool ok, const std::string& what) {
                if (!ok) failures.push_back("timeout session " + std::to_string(n) + ": " + what);
            };
            const std::string user = user_of(0xd0 + n);
            auto warm = execute_retrying(user, "kept = 1");
            expect(warm.status == 200, "warm-up " + std::to_string(warm.status) + " " + warm.body);
            auto started = Clock::now();
            auto r = execute(user, "import time\ntime.sleep(30)");
            auto took = Clock::now() - started;
            expect(r.status == 503 && reason_of(r) == "timeout", "long execution " + std::to_string(r.status) + " " + r.body);
            expect(took >= 2900ms && took < 10s,
                   "answered after " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) + " ms");
            auto next = execute_retrying(user, "print('kept' in globals())");
            expect(next.status == 200 && result_text(next) == "False\n", "after the timeout " + next.body);
            auto rel = release(user);
            expect(rel.status == 200, "release " + std::to_string(rel.status));
            return failures;
        };
        auto one = std::async(std::launch::async, timed_out, 1);
        auto two = std::async(std::launch::async, timed_out, 2);
        for (const auto& failure : one.get()) ADD_FAILURE() << failure;
        for (const auto& failure : two.get()) ADD_FAILURE() << failure;
    }
    phase_done("timeouts");

    // --- Quiet again: nothing counted that is not there, and only the warm pool is left.
    EXPECT_TRUE(wait_until([&] { return pool_settled(); }, 30s)) << status().dump();
    stop_sampler();
    EXPECT_EQ(count_containers(instance_), kMinIdle);
    EXPECT_EQ(count_entries(run_dir_of(instance_)), static_cast<std::size_t>(kMinIdle));
    std::string volumes = volume_leftovers(instance_);
    EXPECT_EQ(count_lines_starting(volumes, "mount "), static_cast<std::size_t>(kMinIdle)) << volumes;
    EXPECT_EQ(count_lines_starting(volumes, "loop "), static_cast<std::size_t>(kMinIdle)) << volumes;
    EXPECT_EQ(count_lines_starting(volumes, "image "), static_cast<std::size_t>(kMinIdle)) << volumes;
    {
        std::lock_guard lock(mu_);
        EXPECT_GT(samples_, 20);
        EXPECT_LE(max_total_seen_, kMaxTotal);
        EXPECT_TRUE(over_limit_.empty()) << over_limit_.size() << " samples over the limit, first: " << over_limit_.front();
        std::printf("[ leak     ] /status samples: %d, max total_workers: %d\n", samples_, max_total_seen_);
    }
    phase_done("settled");

    // --- Stopped while busy: two sessions lease the idle workers (their replacements are being
    // created) and one runs a long execution; the stop must still clean up everything.
    const std::string s1 = user_of(0xe1), s2 = user_of(0xe2);
    ASSERT_EQ(execute(s1, "x = 1").status, 200);
    ASSERT_EQ(execute(s2, "x = 2").status, 200);
    // Bounded, so a stop that forgot the request fails the test instead of hanging it.
    auto in_flight = std::async(std::launch::async, [&, url = gateway_->url("")] {
        return execute_as(url, s1, "import time\ntime.sleep(50)", 20);
    });
    EXPECT_TRUE(wait_until([&] { return field(status(), "running_executions") >= 1; }, 10s, 20ms));
    // Replacements start shortly after a lease (WorkerPool::acquire).
    EXPECT_TRUE(wait_until([&] { return field(status(), "creating_workers") > 0; }, 10s, 20ms)) << status().dump();
    auto stopping = Clock::now();
    gateway_.reset();
    EXPECT_LT(Clock::now() - stopping, 20s);
    auto last = in_flight.get();
    // docs/operations.md: a request in flight at stop is answered 409 session_released or 503
    // shutting_down.
    EXPECT_TRUE((last.status == 409 && reason_of(last) == "session_released") ||
                (last.status == 503 && reason_of(last) == "shutting_down"))
        << last.status << " " << last.body;
    std::printf("[ leak     ] request in flight at stop: %ld %s\n", last.status, last.body.c_str());
    phase_done("stop while busy");

    // --- Stopped: nothing of the instance is left.
    EXPECT_EQ(count_containers(instance_), 0);
    EXPECT_EQ(count_networks(instance_), 0);
    EXPECT_EQ(volume_leftovers(instance_), "");
    EXPECT_FALSE(std::filesystem::exists(run_dir_of(instance_))) << count_entries(run_dir_of(instance_)) << " entries left";
    EXPECT_EQ(count_entries("/run/code-interpreter-disks", instance_ + "-"), 0u);
    EXPECT_EQ(count_entries("/var/lib/code-interpreter/disks", instance_ + "-"), 0u);
    std::printf("[ leak     ] total %lld ms\n",
                ms_since(test_started));
}

// A request whose execution runs when the gateway stops is answered, not dropped.
TEST(LeakStopTest, RequestInFlightAtStopIsAnswered) {
    auto gateway = std::make_unique<TestGateway>("leakstop", TestGatewayOptions{.min_idle = 1, .max_total = 2, .timeout_s = 60});
    const std::string instance = gateway->instance();
    const std::string url = gateway->url("");
    const std::string user = user_of(0xf1);
    ASSERT_EQ(execute_as(url, user, "x = 1", 60).status, 200);
    auto in_flight =
        std::async(std::launch::async, [&] { return execute_as(url, user, "import time\ntime.sleep(50)", 20); });
    std::this_thread::sleep_for(1s);  // the execution runs
    auto stopping = Clock::now();
    gateway.reset();
    auto last = in_flight.get();
    EXPECT_LT(Clock::now() - stopping, 10s);
    const std::string why = reason_of(last);
    EXPECT_TRUE((last.status == 409 && why == "session_released") || (last.status == 503 && why == "shutting_down"))
        << last.status << " " << last.body;
    EXPECT_EQ(count_containers(instance), 0);
    EXPECT_EQ(volume_leftovers(instance), "");
}

}  // namespace
}  // namespace ci::test
