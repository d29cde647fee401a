// WorkerPool's own logic on a fake backend and a fake agent channel (tests/support/fake_workers.hpp):
// the warm pool's bounds under churn, a worker that never becomes ready, creation failures, and
// adoption after a restart. The real stack covers the same paths in tests/integration.
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "fake_workers.hpp"
#include "metrics.hpp"
#include "worker_pool.hpp"

namespace ci {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::FakeAgentChannel;
using test::FakeBackend;

class PoolLogic : public ::testing::Test {
protected:
    void SetUp() override {
        config_.min_idle_workers = 2;
        config_.max_total_workers = 3;
        config_.acquire_timeout = 300ms;
        config_.worker_start_timeout = 5s;
        config_.create_concurrency = 2;
        std::string tmpl = (std::filesystem::temp_directory_path() / "ci-pool-test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        config_.state_file = (dir_ / "pool-state.json").string();
    }
    void TearDown() override {
        if (pool_) pool_->shutdown(2s);
        stop_threads();
        pool_.reset();
        std::filesystem::remove_all(dir_);
    }

    std::unique_ptr<WorkerPool> make_pool() {
        return std::make_unique<WorkerPool>(config_, WorkerConfig{}, backend_, nullptr, *channel_, *tasks_, metrics_);
    }
    // In the order Gateway::stop keeps: the channel's and the tasks' threads end before the pool
    // goes, so no callback of theirs runs on a pool that is gone.
    void stop_threads() {
        channel_->stop();
        tasks_->stop();
    }
    // The gateway stops and keeps its workers; a new process takes over the same backend.
    void stop_keeping_workers() {
        pool_->detach(2s);
        stop_threads();
        pool_.reset();
    }
    void start_again() {
        channel_ = std::make_unique<FakeAgentChannel>();
        tasks_ = std::make_unique<TaskRunner>(4);
        pool_ = make_pool();
    }
    // A leased worker, or the error.
    std::variant<WorkerPtr, ApiError> acquire() {
        std::promise<std::variant<WorkerPtr, ApiError>> done;
        pool_->acquire([&](WorkerPtr worker, std::optional<ApiError> error) {
            if (error) done.set_value(*error);
            else done.set_value(worker);
        });
        auto future = done.get_future();
        EXPECT_EQ(future.wait_for(5s), std::future_status::ready);
        return future.get();
    }
    bool idle_is(int n) {
        return eventually([&] { return pool_->stats().idle == n; });
    }

    std::filesystem::path dir_;
    PoolConfig config_;
    FakeBackend backend_;
    std::unique_ptr<FakeAgentChannel> channel_ = std::make_unique<FakeAgentChannel>();
    std::unique_ptr<TaskRunner> tasks_ = std::make_unique<TaskRunner>(4);
    Metrics metrics_;
    std::unique_ptr<WorkerPool> pool_;
};

TEST_F(PoolLogic, FillsToMinIdleAndNeverPassesMaxTotal) {
    pool_ = make_pool();
    pool_->start();
    ASSERT_TRUE(idle_is(2));
    EXPECT_FALSE(pool_->stats().initializing);
    std::vector<WorkerPtr> leased;
    for (int i = 0; i < 3; ++i) {
        auto got = acquire();
        ASSERT_TRUE(std::holds_alternative<WorkerPtr>(got)) << std::get<ApiError>(got).message;
        leased.push_back(std::get<WorkerPtr>(got));
    }
    EXPECT_EQ(pool_->stats().total(), 3);
    auto refused = acquire();
    ASSERT_TRUE(std::holds_alternative<ApiError>(refused));
    EXPECT_EQ(std::get<ApiError>(refused).reason, ErrorReason::pool_exhausted);
    EXPECT_LE(backend_.alive().size(), 3u);

    pool_->retire(leased.back(), "test");
    leased.pop_back();
    EXPECT_TRUE(eventually([&] { return backend_.destroyed().size() == 1; }));
    // The freed place refills the idle pool, within max_total_workers.
    ASSERT_TRUE(idle_is(1));
    EXPECT_EQ(pool_->stats().total(), 3);
}

TEST_F(PoolLogic, ChurnKeepsTheBoundsAndDestroysEveryRetiredWorker) {
    config_.arrival_window = 0ms;  // exactly min_idle_workers refills, whatever the arrivals
    pool_ = make_pool();
    pool_->start();
    ASSERT_TRUE(idle_is(2));
    for (int round = 0; round < 20; ++round) {
        auto got = acquire();
        ASSERT_TRUE(std::holds_alternative<WorkerPtr>(got)) << round << ": " << std::get<ApiError>(got).message;
        EXPECT_LE(pool_->stats().total(), 3) << round;
        EXPECT_LE(backend_.alive().size(), 3u) << round;
        pool_->retire(std::get<WorkerPtr>(got), "churn");
    }
    EXPECT_TRUE(eventually([&] { return backend_.destroyed().size() == 20; }));
    ASSERT_TRUE(idle_is(2));
    EXPECT_EQ(backend_.created(), 22);
}

TEST_F(PoolLogic, AWorkerWhoseAgentNeverAnswersIsDestroyed) {
    config_.min_idle_workers = 1;
    config_.worker_start_timeout = 200ms;
    channel_->set_answers_pings(false);
    pool_ = make_pool();
    pool_->start();
    EXPECT_TRUE(eventually([&] { return !backend_.destroyed().empty(); }));
    EXPECT_EQ(pool_->stats().idle, 0);
    EXPECT_TRUE(pool_->stats().initializing);
    channel_->set_answers_pings(true);
    ASSERT_TRUE(idle_is(1));
    EXPECT_FALSE(pool_->stats().initializing);
}

TEST_F(PoolLogic, CreationFailuresShowInTheConditionAndAnswerWaiters) {
    backend_.fail_creations("no space left on device", plugin::FailureKind::exhausted);
    pool_ = make_pool();
    pool_->start();
    EXPECT_TRUE(eventually([&] { return pool_->stats().condition == "host_exhausted"; }));
    auto refused = acquire();
    ASSERT_TRUE(std::holds_alternative<ApiError>(refused));
    EXPECT_EQ(std::get<ApiError>(refused).reason, ErrorReason::backend_unavailable);
    EXPECT_NE(pool_->stats().last_create_error.find("no space left"), std::string::npos);
    backend_.fail_creations(std::nullopt);
    EXPECT_TRUE(eventually([&] { return pool_->stats().idle == 2; }, 10s));
    EXPECT_EQ(pool_->stats().condition, "ok");
}

TEST_F(PoolLogic, ARestartedPoolAdoptsTheWorkersItsStateFileNames) {
    pool_ = make_pool();
    pool_->start();
    ASSERT_TRUE(idle_is(2));
    auto got = acquire();
    ASSERT_TRUE(std::holds_alternative<WorkerPtr>(got));
    const WorkerPtr leased = std::get<WorkerPtr>(got);
    pool_->assign(leased, "11111111-1111-4111-8111-111111111111", 1700000000000);
    ASSERT_TRUE(idle_is(2));
    stop_keeping_workers();
    backend_.add_existing("aaaaaaaaaaaa");  // half-created by the earlier run: not in the file
    start_again();
    Adoption adoption = pool_->start();
    ASSERT_EQ(adoption.sessions.size(), 1u);
    EXPECT_EQ(adoption.sessions[0].user, "11111111-1111-4111-8111-111111111111");
    EXPECT_EQ(adoption.sessions[0].worker->id, leased->id);
    EXPECT_EQ(adoption.sessions[0].started_ms, 1700000000000);
    EXPECT_TRUE(adoption.lost_users.empty());
    EXPECT_EQ(pool_->stats().busy, 1);
    EXPECT_FALSE(backend_.alive().count("aaaaaaaaaaaa"));
    EXPECT_TRUE(idle_is(2));
}

TEST_F(PoolLogic, ASavedSessionWhoseWorkerIsGoneIsReportedLost) {
    pool_ = make_pool();
    pool_->start();
    ASSERT_TRUE(idle_is(2));
    auto got = acquire();
    ASSERT_TRUE(std::holds_alternative<WorkerPtr>(got));
    pool_->assign(std::get<WorkerPtr>(got), "22222222-2222-4222-8222-222222222222", 1);
    stop_keeping_workers();
    backend_.destroy_worker(std::get<WorkerPtr>(got)->id);  // gone while the gateway was down
    start_again();
    Adoption adoption = pool_->start();
    EXPECT_TRUE(adoption.sessions.empty());
    EXPECT_EQ(adoption.lost_users, std::vector<std::string>{"22222222-2222-4222-8222-222222222222"});
}

TEST_F(PoolLogic, TheIdleTargetFollowsArrivalsThenGoesBackToMinIdle) {
    config_.min_idle_workers = 1;
    config_.max_total_workers = 8;
    config_.arrival_window = 600ms;
    pool_ = make_pool();
    pool_->start();
    ASSERT_TRUE(idle_is(1));
    EXPECT_EQ(pool_->stats().idle_target, 1);
    std::vector<WorkerPtr> leased;
    for (int i = 0; i < 3; ++i) {
        auto got = acquire();
        ASSERT_TRUE(std::holds_alternative<WorkerPtr>(got)) << std::get<ApiError>(got).message;
        leased.push_back(std::get<WorkerPtr>(got));
    }
    // A crowd of three arrived within the window: three idle workers wait for the next ones.
    EXPECT_EQ(pool_->stats().idle_target, 3);
    ASSERT_TRUE(idle_is(3));
    EXPECT_EQ(pool_->stats().total(), 6);
    // Once they have aged out of the window the surplus is destroyed, the leased workers kept.
    EXPECT_TRUE(eventually([&] { return pool_->stats().idle_target == 1; }));
    ASSERT_TRUE(idle_is(1));
    EXPECT_TRUE(eventually([&] { return backend_.destroyed().size() == 2; }));
    EXPECT_EQ(pool_->stats().busy, 3);
    for (const auto& worker : leased) EXPECT_TRUE(backend_.alive().contains(worker->id));
}

TEST_F(PoolLogic, WithoutAnArrivalWindowTheTargetIsMinIdle) {
    config_.arrival_window = 0ms;
    config_.max_total_workers = 6;
    pool_ = make_pool();
    pool_->start();
    ASSERT_TRUE(idle_is(2));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(std::holds_alternative<WorkerPtr>(acquire()));
    ASSERT_TRUE(idle_is(2));
    EXPECT_EQ(pool_->stats().idle_target, 2);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(pool_->stats().total(), 5);
}

TEST_F(PoolLogic, RefillsRunAheadOfDemandWithThePreloadAndWaitedForWorkersWithoutEither) {
    config_.min_idle_workers = 1;
    pool_ = make_pool();
    pool_->start();
    ASSERT_TRUE(idle_is(1));
    // Made with nobody waiting: a refill.
    const auto refills = backend_.ahead_of_demand();
    ASSERT_EQ(refills.size(), 1u);
    auto first = acquire();
    ASSERT_TRUE(std::holds_alternative<WorkerPtr>(first));
    EXPECT_EQ(*refills.begin(), std::get<WorkerPtr>(first)->id);
    EXPECT_EQ(backend_.leased(), std::vector<std::string>{std::get<WorkerPtr>(first)->id});

    // A session that finds no idle worker waits for one made for it, at the normal priority.
    ASSERT_TRUE(eventually([&] { return pool_->stats().idle == 1 && pool_->stats().creating == 0; }));
    auto second = acquire();  // takes the refill
    auto third = acquire();   // waits
    ASSERT_TRUE(std::holds_alternative<WorkerPtr>(third)) << std::get<ApiError>(third).message;
    const std::string waited = std::get<WorkerPtr>(third)->id;
    EXPECT_FALSE(backend_.ahead_of_demand().contains(waited));
    EXPECT_TRUE(backend_.preloading().contains(*refills.begin()));
    EXPECT_FALSE(backend_.preloading().contains(waited)) << "a waiting session does not wait for the preload too";
    EXPECT_EQ(backend_.leased().back(), waited);
    EXPECT_EQ(backend_.leased().size(), 3u);
}

TEST_F(PoolLogic, RefillsAtTheNormalPriorityWhenConfigured) {
    config_.low_priority_refills = false;
    pool_ = make_pool();
    pool_->start();
    ASSERT_TRUE(idle_is(2));
    EXPECT_TRUE(backend_.ahead_of_demand().empty());
}

TEST_F(PoolLogic, WorkersAreMadeWithThePreloadListAndReportTheirStartTimes) {
    WorkerConfig worker;
    worker.preload = {"json", "email.mime.text"};
    pool_ = std::make_unique<WorkerPool>(config_, worker, backend_, nullptr, *channel_, *tasks_, metrics_);
    pool_->start();
    ASSERT_TRUE(idle_is(2));
    EXPECT_EQ(backend_.last_spec().preload_modules, worker.preload);
    const PoolStats stats = pool_->stats();
    EXPECT_EQ(stats.ready_samples, 2);
    EXPECT_LE(stats.ready_ms_p50, stats.ready_ms_max);
    EXPECT_GE(stats.ready_ms_p50, 0);
}

}  // namespace
}  // namespace ci
