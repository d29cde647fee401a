#include "task_runner.hpp"

#include <exception>

#include "log.hpp"

namespace ci {

TaskRunner::TaskRunner(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

TaskRunner::~TaskRunner() { stop(); }

void TaskRunner::post(std::function<void()> task) { post_after(Clock::duration::zero(), std::move(task)); }

void TaskRunner::post_after(Clock::duration delay, std::function<void()> task) {
    bool wake_idle = false, wake_timekeeper = false;
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        const auto due = Clock::now() + delay;
        const bool earliest = queue_.empty() || due < queue_.top().due;
        queue_.push(Item{due, seq_++, std::move(task)});
        // Due work goes to an idle thread; a delayed task needs a timekeeper, and one that waits
        // for a later task must look again (it also takes due work when no other thread is idle).
        wake_idle = delay <= Clock::duration::zero() || !timekeeper_;
        wake_timekeeper = earliest && timekeeper_;
    }
    if (wake_idle) cv_.notify_one();
    if (wake_timekeeper) timer_cv_.notify_one();
}

void TaskRunner::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    timer_cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

void TaskRunner::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        if (queue_.empty()) {
            if (stopping_) return;
            cv_.wait(lock);
            continue;
        }
        auto due = queue_.top().due;
        if (due > Clock::now()) {
            if (stopping_) return;  // delayed work is dropped on stop
            if (timekeeper_) {
                cv_.wait(lock);
            } else {
                timekeeper_ = true;
                timer_cv_.wait_until(lock, due);
                timekeeper_ = false;
            }
            continue;
        }
        auto task = std::move(const_cast<Item&>(queue_.top()).task);
        queue_.pop();
        // Without a timekeeper, another thread must keep time (or take due work) meanwhile.
        if (!queue_.empty() && !timekeeper_) cv_.notify_one();
        lock.unlock();
        try {
            task();
        } catch (const std::exception& e) {
            log_error(std::string("background task failed: ") + e.what());
        }
        lock.lock();
    }
}

}  // namespace ci
