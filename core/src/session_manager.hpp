#pragma once
// user_uuid -> session: a leased worker and a FIFO of executions, run one at a time.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "admission.hpp"
#include "api_error.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"
#include "config.hpp"
#include "stats.hpp"
#include "worker_pool.hpp"

namespace ci {

class Metrics;

// A finished execution and what the caller should know about its session.
struct ExecutionAnswer {
    protocol::ExecutionResult result;
    bool new_session = false;      // this execution started a fresh session (no earlier state)
    std::string previous_session;  // for a new session: how the user's previous one ended, if the
                                   // gateway ended it ("expired_idle", "expired_lifetime",
                                   // "worker_lost", "lost_at_restart"); else empty
    bool interrupted = false;      // interrupt() stopped it (KeyboardInterrupt); the session is kept
};

using ExecutionOutcome = std::variant<ExecutionAnswer, ApiError>;

struct ExecuteOptions {
    bool store_history = false;  // the kernel numbers and keeps this execution (In, Out, _N)
    // Set: the agent streams the outputs, each passed here (on the agent channel's thread) as it comes.
    std::function<void(const protocol::OutputItem&)> on_output;
};

// The answer of an agent operation that runs beside executions (files).
struct AgentCallAnswer {
    bool ok = false;      // the agent's "ok"; false: body holds its "error" and "error_kind"
    nlohmann::json body;  // the agent's reply
    bool new_session = false;
    std::string previous_session;
};

using AgentCallOutcome = std::variant<AgentCallAnswer, ApiError>;

class SessionManager {
public:
    using Done = std::function<void(ExecutionOutcome)>;

    SessionManager(const ExecutionConfig& config, const PoolConfig& limits, WorkerPool& pool, AgentChannel& hub,
                   TaskRunner& tasks, Metrics& metrics);

    // Takes over the sessions of workers the pool adopted, then starts the reaper that ends
    // sessions past their idle timeout or lifetime.
    void start(const Adoption& adoption);

    // Runs code in user's session (made on first use); done is called exactly once, from any thread.
    void execute(const std::string& user, std::string code, ExecuteOptions options, Done done);
    // Interrupts user's running execution (answered as interrupted; its session and the executions
    // queued behind it stay). done gets whether one was running, or not_found without a session.
    using InterruptDone = std::function<void(std::variant<bool, ApiError>)>;
    void interrupt_execution(const std::string& user, InterruptDone done);
    // Sends request to the agent of user's session (made on first use) beside the executions: not
    // queued behind them, not counted by admission, and an agent error keeps the worker.
    using AgentCallDone = std::function<void(AgentCallOutcome)>;
    void call_agent(const std::string& user, protocol::Request request, std::chrono::milliseconds timeout,
                    AgentCallDone done);
    // Destroys user's session and worker; false when the user has no session.
    bool release(const std::string& user);
    SessionStats stats() const;
    // Refuses new requests and waits (at most timeout) until the running and queued ones are done.
    void drain(std::chrono::milliseconds timeout);
    // Ends every session (their requests get shutting_down) and refuses new ones.
    void shutdown();
    // Forgets every session without touching its worker (kept for the next start); requests
    // still running get shutting_down.
    void detach();

private:
    using Clock = std::chrono::steady_clock;
    struct Pending {
        std::string code;
        ExecuteOptions options;
        Done done;
        bool new_session = false;
        std::string previous_session;
    };
    // Sends an agent call once the session has its worker, or fails it.
    using WorkerWaiter = std::function<void(WorkerPtr, std::optional<ApiError>)>;
    struct Session {
        std::uint64_t id = 0;
        WorkerPtr worker;  // null while waiting for the pool
        bool running = false;
        std::uint64_t execution = 0;    // the running one's number
        std::uint64_t interrupted = 0;  // the number of the execution interrupt_execution() stopped
        std::deque<Pending> queue;
        std::vector<WorkerWaiter> waiting_for_worker;  // agent calls made before the worker came
        Clock::time_point created;
        Clock::time_point last_used;
        std::int64_t started_unix_ms = 0;
        // Several gateways, one set of sessions (WorkerPool::shares_sessions): the session's name
        // in the shared directory, and when this gateway last renewed its claim.
        std::string claim;
        Clock::time_point renewed;
    };
    struct Expiry {
        std::string reason;  // ExecutionAnswer::previous_session
        Clock::time_point at;
    };

    // The user's session, made (and its previous end looked up) when there is none; with mu_ held.
    // new_session: the session's id when made here, else 0.
    Session& session_of_locked(const std::string& user, std::uint64_t& new_session, std::string& previous_session);
    void acquire_for(const std::string& user, std::uint64_t session_id);
    // Renews a shared session's claim (in a task) when the last renewal is old enough; mu_ held.
    void renew_locked(Session& session);
    // With a shared directory (blocking: from a task): the session's claimed worker, another
    // gateway's included, or a pool worker claimed for it; attempt bounds the claim races.
    void acquire_shared(const std::string& user, std::uint64_t session_id, int attempt);
    // adopted: the worker already served the session (its claim was found): not a new session.
    void on_acquired(const std::string& user, std::uint64_t session_id, WorkerPtr worker, std::optional<ApiError> error,
                     const std::string& claim = {}, bool adopted = false);
    // Ends this gateway's hold on a session's worker: destroyed, or only let go when the session
    // is in the shared directory and keep is set (another gateway may serve it).
    void let_go(const WorkerPtr& worker, const std::string& claim, bool keep, const std::string& why);
    // An idle shared session: destroyed unless another gateway renewed its claim lately.
    void expire_shared(WorkerPtr worker, std::string claim);
    // From the reaper, at most every minute: removes the sessions no gateway renewed lately.
    void sweep_abandoned();
    // Starts the next queued execution if the session is idle and a running slot is free (else the
    // session waits for one). Called with mu_ held.
    void start_next(const std::string& user, Session& session);
    void send_next(const std::string& user, Session& session);
    // An execution ended: its slot goes to the next waiting session.
    void free_slot(std::uint64_t execution);
    void admit_waiting_locked();
    // Executions that outlive running_slot_time stop counting, but only a waiting session needs
    // that: one timer, armed while sessions wait, at the earliest slot's expiry (not one per
    // execution, which would cost every execution a timer thread's wake-up).
    void arm_slot_timer_locked();
    void expire_slots();
    void on_reply(const std::string& user, std::uint64_t session_id, std::uint64_t execution, WorkerPtr worker,
                  Pending request, AgentReply reply);
    // Whether interrupt_execution() stopped this execution (and not its own exception or success).
    bool was_interrupted(const std::string& user, std::uint64_t session_id, std::uint64_t execution,
                         const protocol::ExecutionResult& result) const;
    void send_call(const WorkerPtr& worker, protocol::Request request, std::chrono::milliseconds timeout,
                   AgentCallAnswer answer, AgentCallDone done);
    void reap();
    void execution_finished(const std::string& user, std::uint64_t session_id);
    // session_failures.cpp: what follows an execution that got no result.
    void execution_failed(const std::string& user, std::uint64_t session_id, WorkerPtr worker, Done done,
                          AgentReply reply);
    void interrupt(const std::string& user, std::uint64_t session_id, WorkerPtr worker, Done done);
    void recycle(const std::string& user, std::uint64_t session_id, WorkerPtr worker, Done done, AgentReply reply);
    // Removes the session (its worker is the caller's to retire). Called with mu_ held; returns the
    // queued requests, to be failed once the lock is released.
    std::deque<Pending> end_session_locked(const std::string& user, const std::string& why);
    void answer_failure(const WorkerPtr& worker, Done done, const AgentReply& reply);
    // A leased worker's agent went away while no execution ran: the session ends now, so the
    // user's next call starts a fresh one and is told why.
    void on_worker_lost(const std::string& worker_id, AgentChannel::Loss loss);

    ExecutionConfig config_;
    PoolConfig limits_;
    WorkerPool& pool_;
    AgentChannel& hub_;
    TaskRunner& tasks_;
    Metrics& metrics_;

    mutable std::mutex mu_;
    std::unordered_map<std::string, Session> sessions_;
    std::uint64_t next_session_id_ = 1;
    // Users whose session the reaper ended, so their next call can be told; entries are dropped
    // after a day.
    std::unordered_map<std::string, Expiry> expired_;
    Admission admission_;
    // Executions counted by admission_ -> when they stop counting; in execution order, which is
    // also expiry order.
    std::map<std::uint64_t, Clock::time_point> holding_slot_;
    bool slot_timer_armed_ = false;
    // Shared sessions: when the reaper next asks the directory to remove abandoned sessions.
    Clock::time_point next_sweep_{};
    std::uint64_t next_execution_ = 1;
    bool draining_ = false;
    bool shutting_down_ = false;
};

}  // namespace ci
