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
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        queue_.push(Item{Clock::now() + delay, seq_++, std::move(task)});
    }
    cv_.notify_one();
}

void TaskRunner::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
    }
    cv_.notify_all();
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
            cv_.wait_until(lock, due);
            continue;
        }
        auto task = std::move(const_cast<Item&>(queue_.top()).task);
        queue_.pop();
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
