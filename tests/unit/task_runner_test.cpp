#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "task_runner.hpp"

namespace ci {
namespace {

using namespace std::chrono_literals;

// Generous bounds: these check that work runs and in which order, not how fast.
constexpr auto kWithin = 10s;

// Keeps one of the runner's threads busy from construction until destruction. Declare it after
// the runner, so that it lets the thread go before the runner stops.
class BusyThread {
public:
    explicit BusyThread(TaskRunner& runner) {
        runner.post([this, released = release_.get_future().share()] {
            started_.set_value();
            released.wait();
        });
        started_.get_future().wait();
    }
    ~BusyThread() { release_.set_value(); }
    BusyThread(const BusyThread&) = delete;
    BusyThread& operator=(const BusyThread&) = delete;

private:
    std::promise<void> started_;
    std::promise<void> release_;
};

TEST(TaskRunner, ADelayedTaskPostedToIdleThreadsRuns) {
    TaskRunner runner(3);
    std::promise<void> ran;
    runner.post_after(20ms, [&] { ran.set_value(); });
    EXPECT_EQ(ran.get_future().wait_for(kWithin), std::future_status::ready);
}

TEST(TaskRunner, DelayedTasksRunInDueOrderNotPostingOrder) {
    TaskRunner runner(2);
    std::mutex mu;
    std::vector<std::string> order;
    std::promise<void> done;
    auto record = [&](std::string name) {
        std::lock_guard lock(mu);
        order.push_back(std::move(name));
        if (order.size() == 3) done.set_value();
    };
    runner.post_after(300ms, [&] { record("late"); });
    runner.post_after(150ms, [&] { record("middle"); });
    runner.post_after(10ms, [&] { record("early"); });  // earlier than what the timekeeper waits for
    ASSERT_EQ(done.get_future().wait_for(kWithin), std::future_status::ready);
    EXPECT_EQ(order, (std::vector<std::string>{"early", "middle", "late"}));
}

TEST(TaskRunner, ADelayedTaskIsNotLateNorEarly) {
    TaskRunner runner(4);
    const auto posted = TaskRunner::Clock::now();
    std::promise<TaskRunner::Clock::time_point> ran;
    runner.post_after(200ms, [&] { ran.set_value(TaskRunner::Clock::now()); });
    auto future = ran.get_future();
    ASSERT_EQ(future.wait_for(kWithin), std::future_status::ready);
    EXPECT_GE(future.get() - posted, 200ms);
}

TEST(TaskRunner, DueWorkRunsWhileTheOnlyOtherThreadKeepsTime) {
    TaskRunner runner(2);
    BusyThread busy(runner);
    // One thread is busy; the other waits for this far delayed task.
    runner.post_after(1h, [] {});
    std::promise<void> ran;
    runner.post([&] { ran.set_value(); });
    EXPECT_EQ(ran.get_future().wait_for(kWithin), std::future_status::ready);
}

TEST(TaskRunner, ADelayedTaskRunsWhenEveryOtherThreadIsBusy) {
    TaskRunner runner(2);
    BusyThread busy(runner);
    std::promise<void> ran;
    runner.post_after(30ms, [&] { ran.set_value(); });
    EXPECT_EQ(ran.get_future().wait_for(kWithin), std::future_status::ready);
}

TEST(TaskRunner, ManyDueTasksAllRun) {
    TaskRunner runner(4);
    std::atomic<int> count{0};
    std::promise<void> done;
    constexpr int kTasks = 2000;
    for (int i = 0; i < kTasks; ++i) {
        auto task = [&] {
            if (++count == kTasks) done.set_value();
        };
        if (i % 3 == 0)
            runner.post_after(std::chrono::microseconds(i), task);
        else
            runner.post(task);
    }
    ASSERT_EQ(done.get_future().wait_for(kWithin), std::future_status::ready);
    EXPECT_EQ(count.load(), kTasks);
}

TEST(TaskRunner, StopRunsDueWorkAndDropsDelayedWork) {
    std::atomic<bool> delayed_ran{false};
    std::promise<void> due_ran;
    {
        TaskRunner runner(2);
        runner.post_after(1h, [&] { delayed_ran = true; });
        runner.post([&] { due_ran.set_value(); });
        ASSERT_EQ(due_ran.get_future().wait_for(kWithin), std::future_status::ready);
        runner.stop();
        runner.post([&] { delayed_ran = true; });  // ignored after stop
    }
    EXPECT_FALSE(delayed_ran.load());
}

}  // namespace
}  // namespace ci
