#pragma once
// A small fixed set of threads for blocking work (backend and storage calls) and delayed tasks.
// Keeps such calls off the HTTP and agent I/O threads.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace ci {

class TaskRunner {
public:
    using Clock = std::chrono::steady_clock;
    explicit TaskRunner(int threads);
    ~TaskRunner();
    TaskRunner(const TaskRunner&) = delete;
    TaskRunner& operator=(const TaskRunner&) = delete;

    void post(std::function<void()> task);
    void post_after(Clock::duration delay, std::function<void()> task);
    // Runs what is due, drops delayed tasks that are not, and joins the threads.
    void stop();

private:
    struct Item {
        Clock::time_point due;
        std::uint64_t seq;
        std::function<void()> task;
        bool operator>(const Item& o) const { return due != o.due ? due > o.due : seq > o.seq; }
    };
    void run();

    std::mutex mu_;
    // Idle threads wait on cv_ for work that is due; at most one of them (the timekeeper) waits on
    // timer_cv_ for the earliest delayed task, so a delayed task wakes one thread, not all.
    std::condition_variable cv_;
    std::condition_variable timer_cv_;
    bool timekeeper_ = false;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
    std::uint64_t seq_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace ci
