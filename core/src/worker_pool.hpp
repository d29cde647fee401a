#pragma once
// The warm pool: keeps min_idle_workers ready, never more than max_total_workers in all, hands
// idle workers to new sessions, and destroys used ones in the background ("cattle, not pets").
// It saves its ready workers (pool_state.hpp) so a restarted gateway adopts them.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent_channel.hpp"
#include "api_error.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "code_interpreter/plugin/storage_provider.hpp"
#include "config.hpp"
#include "pool_state.hpp"
#include "stats.hpp"
#include "task_runner.hpp"

namespace ci {

class Metrics;

struct Worker {
    std::string id;
    std::string key;  // signs gateway <-> agent messages
    plugin::WorkerHandle handle;
    bool has_volume = false;
};
using WorkerPtr = std::shared_ptr<const Worker>;

// A session that lived on a worker the pool adopted at start.
struct AdoptedSession {
    std::string user;
    WorkerPtr worker;
    std::int64_t started_ms = 0;  // Unix time
};

struct Adoption {
    std::vector<AdoptedSession> sessions;
    std::vector<std::string> lost_users;  // users whose saved session's worker could not be adopted
};

class WorkerPool {
public:
    using AcquireCallback = std::function<void(WorkerPtr, std::optional<ApiError>)>;
    using LostCallback = AgentChannel::LostCallback;

    WorkerPool(const PoolConfig& pool, const WorkerConfig& worker, plugin::IsolationBackend& backend,
               plugin::StorageProvider* storage, AgentChannel& hub, TaskRunner& tasks, Metrics& metrics);

    // Adopts the live workers the state file names (their sessions are returned), removes every
    // other worker and volume of this instance, then starts filling.
    Adoption start();
    // Calls back exactly once, maybe before returning, with a worker leased to the caller or why not.
    void acquire(AcquireCallback callback);
    // Records which session a leased worker serves (saved for restart recovery).
    void assign(const WorkerPtr& worker, const std::string& user, std::int64_t started_ms);
    // Takes back a leased worker and destroys it in the background.
    void retire(WorkerPtr worker, const std::string& why);
    // Asks the backend how a worker is doing (blocking: call from a task).
    plugin::Result<plugin::WorkerStatus> inspect(const WorkerPtr& worker);
    // Several gateways, one set of sessions (the backend's shared directory, if it has one). The
    // directory's calls block: call them from a task.
    bool shares_sessions() const { return backend_.shares_sessions(); }
    plugin::Result<std::optional<plugin::SessionClaim>> find_session(const std::string& session);
    plugin::Status claim_session(const std::string& session, const WorkerPtr& worker);
    plugin::Status renew_session(const std::string& session);
    plugin::Result<int> remove_idle_sessions(std::int64_t renewed_before_unix_ms);
    // Leases here too a worker another gateway claimed for a session: connected and counted as
    // leased, not saved (this gateway's restart finds it in the directory again).
    WorkerPtr lease_claimed(const plugin::SessionClaim& claim);
    // Lets go of a leased worker without destroying it: another gateway serves its session.
    void forget(const WorkerPtr& worker, const std::string& why);
    // Called (on the agent I/O thread) when a leased worker's agent goes away between executions.
    void set_on_leased_lost(LostCallback callback);
    PoolStats stats() const;
    // Stops creating, destroys idle workers, and waits (bounded) until every worker is gone.
    void shutdown(std::chrono::milliseconds wait);
    // Stops creating and keeps the ready workers for the next start to adopt.
    void detach(std::chrono::milliseconds wait);

private:
    using Clock = TaskRunner::Clock;
    struct Waiter {
        std::uint64_t id;
        AcquireCallback callback;
    };
    struct Starting {
        WorkerPtr worker;
        TaskRunner::Clock::time_point since;
    };
    void adopt(const std::vector<plugin::WorkerHandle>& listed, Adoption& adoption);
    void fill();
    // waited_for: made for a session waiting now (normal priority, no preload), else a refill.
    void create_one(bool waited_for);
    // Arrivals (new sessions) within pool_.arrival_window, pruned as they age out; the idle target
    // is min_idle_workers or the largest crowd among them.
    void note_arrival_locked(Clock::time_point now);
    int idle_target_locked(Clock::time_point now) const;
    void trim_idle();
    // Lets the backend run a leased worker at the normal CPU priority (worker_leased).
    void raise_priority(const WorkerPtr& worker);
    void on_ready(const WorkerPtr& worker);
    void on_create_failed(const std::string& why, plugin::FailureKind kind);
    void destroy(WorkerPtr worker, const std::string& why);  // counted in destroying_
    void remove(const WorkerPtr& worker, const std::string& why, bool first_attempt);
    void reconcile();
    void expire_waiter(std::uint64_t id);
    void on_worker_lost(const std::string& worker_id, AgentChannel::Loss loss);
    void persist();
    // Stops creating and answers the waiters; returns the idle workers.
    std::deque<WorkerPtr> stop_creating();
    void wait_until(std::chrono::milliseconds wait, const std::function<bool()>& done, const char* what);
    std::string condition_locked() const;

    PoolConfig pool_;
    WorkerConfig worker_;
    plugin::IsolationBackend& backend_;
    plugin::StorageProvider* storage_;
    AgentChannel& hub_;
    TaskRunner& tasks_;
    Metrics& metrics_;
    PoolStateFile state_;
    std::mutex save_mu_;  // one state file write at a time, each of a fresh snapshot
    LostCallback on_leased_lost_;

    mutable std::mutex mu_;
    std::condition_variable drained_;
    std::deque<WorkerPtr> idle_;
    std::deque<Waiter> waiters_;
    std::uint64_t next_waiter_ = 1;
    std::unordered_map<std::string, SavedWorker> ready_;    // idle and leased workers, as saved
    std::unordered_map<std::string, Starting> starting_;    // made, agent not yet answering
    std::vector<WorkerPtr> zombies_;                         // removal failed; retried
    int creating_ = 0;
    int leased_ = 0;
    std::deque<Clock::time_point> arrivals_;
    std::deque<std::int64_t> ready_ms_;  // the latest creations' times to ready, newest last
    bool initial_fill_done_ = false;  // min_idle_workers were ready at once since start
    int destroying_ = 0;
    int consecutive_failures_ = 0;
    plugin::FailureKind failure_kind_ = plugin::FailureKind::other;
    TaskRunner::Clock::time_point failing_since_{};
    TaskRunner::Clock::time_point retry_after_{};
    bool retry_scheduled_ = false;
    std::string last_create_error_;
    bool shutting_down_ = false;
};

}  // namespace ci
