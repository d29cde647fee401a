#pragma once
// The warm pool: keeps min_idle_workers ready, never more than max_total_workers in all, hands
// idle workers to new sessions, and destroys used ones in the background ("cattle, not pets").
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent_hub.hpp"
#include "api_error.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "code_interpreter/plugin/storage_provider.hpp"
#include "config.hpp"
#include "task_runner.hpp"

namespace ci {

struct Worker {
    std::string id;
    std::string key;  // signs gateway <-> agent messages
    plugin::WorkerHandle handle;
    bool has_volume = false;
};
using WorkerPtr = std::shared_ptr<const Worker>;

struct PoolStats {
    int idle = 0;
    int busy = 0;      // leased to sessions
    int creating = 0;
    int destroying = 0;
    int waiting = 0;   // sessions waiting for a worker
    int total() const { return idle + busy + creating + destroying; }
    std::string last_create_error;  // empty after a success
};

class WorkerPool {
public:
    using AcquireCallback = std::function<void(WorkerPtr, std::optional<ApiError>)>;

    WorkerPool(const PoolConfig& pool, const WorkerConfig& worker, plugin::IsolationBackend& backend,
               plugin::StorageProvider* storage, AgentHub& hub, TaskRunner& tasks);

    // Removes workers and volumes left by an earlier run of this instance, then starts filling.
    void start();
    // Calls back exactly once, maybe before returning, with a worker leased to the caller or why not.
    void acquire(AcquireCallback callback);
    // Takes back a leased worker and destroys it in the background.
    void retire(WorkerPtr worker, const std::string& why);
    // Asks the backend how a worker is doing (blocking: call from a task).
    plugin::Result<plugin::WorkerStatus> inspect(const WorkerPtr& worker);
    PoolStats stats() const;
    // Stops creating, destroys idle workers, and waits (bounded) until every worker is gone.
    void shutdown(std::chrono::milliseconds wait);

private:
    struct Waiter {
        std::uint64_t id;
        AcquireCallback callback;
    };
    void fill();
    void create_one();
    void on_ready(const WorkerPtr& worker);
    void on_create_failed(const std::string& why);
    void destroy(WorkerPtr worker, const std::string& why);  // counted in destroying_
    void expire_waiter(std::uint64_t id);
    void on_worker_lost(const std::string& worker_id);

    PoolConfig pool_;
    WorkerConfig worker_;
    plugin::IsolationBackend& backend_;
    plugin::StorageProvider* storage_;
    AgentHub& hub_;
    TaskRunner& tasks_;

    mutable std::mutex mu_;
    std::condition_variable drained_;
    std::deque<WorkerPtr> idle_;
    std::deque<Waiter> waiters_;
    std::uint64_t next_waiter_ = 1;
    int creating_ = 0;
    int leased_ = 0;
    int destroying_ = 0;
    int consecutive_failures_ = 0;
    TaskRunner::Clock::time_point retry_after_{};
    bool retry_scheduled_ = false;
    std::string last_create_error_;
    bool shutting_down_ = false;
};

}  // namespace ci
