#include "session_manager.hpp"

#include <algorithm>
#include <thread>

#include "agent_errors.hpp"
#include "code_interpreter/crypto/crypto.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "request_fields.hpp"

namespace ci {
namespace {

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void fail_all(std::deque<std::function<void(ExecutionOutcome)>>& dones, const ApiError& error) {
    for (auto& done : dones) done(error);
}

}  // namespace

namespace {
constexpr auto kReapInterval = std::chrono::milliseconds(500);
constexpr auto kExpiryMemory = std::chrono::hours(24);
// A gateway serving a shared session renews its claim at most this often.
constexpr auto kRenewEvery = std::chrono::seconds(30);
// Claim races lost in a row before a session's creation gives up (each loss means another
// gateway's claim appeared, which the next attempt finds).
constexpr int kClaimAttempts = 3;
// How often a gateway sharing sessions sweeps the directory for sessions no gateway serves.
constexpr auto kSweepEvery = std::chrono::seconds(60);

// The session's name in the shared directory: its tenant and user, hashed.
std::string session_claim_name(const std::string& user) {
    return crypto::hmac_sha256_hex("code-interpreter session", {user});
}
}  // namespace

SessionManager::SessionManager(const ExecutionConfig& config, const PoolConfig& limits, WorkerPool& pool,
                               AgentChannel& hub, TaskRunner& tasks, Metrics& metrics)
    : config_(config), limits_(limits), pool_(pool), hub_(hub), tasks_(tasks), metrics_(metrics),
      // One more than the cores keeps them busy while a finished execution's answer travels
      // back and the next one is sent (measured: docs/benchmarks.md).
      admission_(config.max_running > 0 ? config.max_running
                                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) + 1) {
    pool_.set_on_leased_lost(
        [this](const std::string& worker_id, AgentChannel::Loss loss) { on_worker_lost(worker_id, loss); });
}

void SessionManager::start(const Adoption& adoption) {
    {
        std::lock_guard lock(mu_);
        auto now = Clock::now();
        auto unix_now = unix_ms_now();
        for (const auto& adopted : adoption.sessions) {
            Session& session = sessions_[adopted.user];
            session.id = next_session_id_++;
            session.worker = adopted.worker;
            // The lifetime counts from the session's real start; idleness from now.
            session.created = now - std::chrono::milliseconds(std::max<std::int64_t>(0, unix_now - adopted.started_ms));
            session.last_used = now;
            session.started_unix_ms = adopted.started_ms;
            log_info("session " + std::to_string(session.id) + " adopted on worker " + adopted.worker->id);
        }
        for (const auto& user : adoption.lost_users) expired_[user] = Expiry{"lost_at_restart", now};
    }
    if (limits_.session_idle_timeout.count() > 0 || limits_.session_max_lifetime.count() > 0)
        tasks_.post_after(kReapInterval, [this] { reap(); });
}

// Ends idle sessions past their idle timeout or lifetime (a running session is left to finish:
// it is ended at the first pass after it goes idle).
void SessionManager::reap() {
    std::vector<WorkerPtr> to_retire;
    std::vector<std::pair<WorkerPtr, std::string>> to_expire_shared;
    {
        std::lock_guard lock(mu_);
        if (shutting_down_) return;
        auto now = Clock::now();
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            const Session& session = it->second;
            std::string reason;
            bool idle = !session.running && session.queue.empty() && session.worker;
            if (idle && limits_.session_max_lifetime.count() > 0 && now - session.created >= limits_.session_max_lifetime)
                reason = "expired_lifetime";
            else if (idle && limits_.session_idle_timeout.count() > 0 &&
                     now - session.last_used >= limits_.session_idle_timeout)
                reason = "expired_idle";
            if (reason.empty()) {
                ++it;
                continue;
            }
            log_info("session " + std::to_string(session.id) + " ended: " + reason);
            if (!session.claim.empty() && reason == "expired_idle")
                to_expire_shared.emplace_back(session.worker, session.claim);
            else
                to_retire.push_back(session.worker);
            expired_[it->first] = Expiry{reason, now};
            it = sessions_.erase(it);
        }
        for (auto it = expired_.begin(); it != expired_.end();)
            it = now - it->second.at > kExpiryMemory ? expired_.erase(it) : std::next(it);
    }
    for (auto& worker : to_retire) pool_.retire(worker, "session expired");
    for (auto& [worker, claim] : to_expire_shared)
        tasks_.post([this, worker, claim] { expire_shared(worker, claim); });
    sweep_abandoned();
    tasks_.post_after(kReapInterval, [this] { reap(); });
}

void SessionManager::execute(const std::string& user, std::string code, ExecuteOptions options, Done done) {
    // Every outcome is counted, with its time from here.
    done = [this, started = Clock::now(), done = std::move(done)](ExecutionOutcome outcome) {
        if (const auto* error = std::get_if<ApiError>(&outcome))
            metrics_.execution_failed(error->reason, Clock::now() - started);
        else
            metrics_.execution_answered(std::get<ExecutionAnswer>(outcome).result.status != "ok", Clock::now() - started);
        done(std::move(outcome));
    };
    std::uint64_t new_session = 0;
    {
        std::unique_lock lock(mu_);
        if (shutting_down_ || draining_) {
            lock.unlock();
            done(ApiError{ErrorReason::shutting_down, "the gateway is stopping"});
            return;
        }
        Pending pending{std::move(code), std::move(options), std::move(done), false, {}};
        Session& session = session_of_locked(user, new_session, pending.previous_session);
        pending.new_session = new_session != 0;
        std::size_t waiting = session.queue.size() + (session.running ? 1 : 0);
        if (waiting > config_.max_queued_per_session) {
            lock.unlock();
            pending.done(ApiError{ErrorReason::queue_full, "too many requests waiting for this session (limit " +
                                                               std::to_string(config_.max_queued_per_session) + ")"});
            return;
        }
        session.queue.push_back(std::move(pending));
        if (new_session == 0) start_next(user, session);
        renew_locked(session);
    }
    if (new_session != 0) acquire_for(user, new_session);
}

void SessionManager::renew_locked(Session& session) {
    if (session.claim.empty() || Clock::now() - session.renewed < kRenewEvery) return;
    session.renewed = Clock::now();
    tasks_.post([this, claim = session.claim] {
        if (auto renewed = pool_.renew_session(claim); !renewed.ok())
            log_warn("renewing a session's claim in the shared directory: " + renewed.error());
    });
}

SessionManager::Session& SessionManager::session_of_locked(const std::string& user, std::uint64_t& new_session,
                                                           std::string& previous_session) {
    auto [it, inserted] = sessions_.try_emplace(user);
    Session& session = it->second;
    if (!inserted) return session;
    session.id = next_session_id_++;
    session.created = session.last_used = Clock::now();
    session.started_unix_ms = unix_ms_now();
    new_session = session.id;
    if (auto expired = expired_.find(user); expired != expired_.end()) {
        previous_session = expired->second.reason;
        expired_.erase(expired);
    }
    return session;
}

// May call back at once (an idle worker): the lock must not be held here.
void SessionManager::acquire_for(const std::string& user, std::uint64_t session_id) {
    if (pool_.shares_sessions()) {
        tasks_.post([this, user, session_id] { acquire_shared(user, session_id, 1); });
        return;
    }
    pool_.acquire([this, user, session_id](WorkerPtr worker, std::optional<ApiError> error) {
        on_acquired(user, session_id, std::move(worker), std::move(error));
    });
}

void SessionManager::acquire_shared(const std::string& user, std::uint64_t session_id, int attempt) {
    const std::string claim = session_claim_name(user);
    auto found = pool_.find_session(claim);
    if (!found.ok()) {
        on_acquired(user, session_id, nullptr,
                    ApiError{ErrorReason::backend_unavailable, "the shared session directory cannot be read: " + found.error()});
        return;
    }
    if (found.value()) {
        // Another gateway (or this one, before a restart) serves this session: take it up.
        on_acquired(user, session_id, pool_.lease_claimed(*found.value()), std::nullopt, claim, true);
        if (auto renewed = pool_.renew_session(claim); !renewed.ok())
            log_warn("renewing a session's claim in the shared directory: " + renewed.error());
        return;
    }
    pool_.acquire([this, user, session_id, claim, attempt](WorkerPtr worker, std::optional<ApiError> error) {
        if (!worker) {
            on_acquired(user, session_id, nullptr, std::move(error));
            return;
        }
        tasks_.post([this, user, session_id, claim, attempt, worker] {
            auto claimed = pool_.claim_session(claim, worker);
            if (claimed.ok()) {
                on_acquired(user, session_id, worker, std::nullopt, claim);
                return;
            }
            pool_.retire(worker, "its session could not be claimed: " + claimed.error());
            // Another gateway claimed the session meanwhile: its worker serves it.
            if (claimed.kind() == plugin::FailureKind::conflict && attempt < kClaimAttempts) {
                acquire_shared(user, session_id, attempt + 1);
                return;
            }
            on_acquired(user, session_id, nullptr,
                        ApiError{ErrorReason::backend_unavailable,
                                 "the session cannot be claimed in the shared directory: " + claimed.error()});
        });
    });
}

void SessionManager::let_go(const WorkerPtr& worker, const std::string& claim, bool keep, const std::string& why) {
    if (keep && !claim.empty())
        pool_.forget(worker, why);
    else
        pool_.retire(worker, why);
}

// Sessions that every gateway left idle (or whose gateways are gone) are in no gateway's reaper:
// the directory is swept for claims renewed before the idle timeout (plus the renewal period).
void SessionManager::sweep_abandoned() {
    if (!pool_.shares_sessions() || limits_.session_idle_timeout.count() == 0 || Clock::now() < next_sweep_) return;
    next_sweep_ = Clock::now() + kSweepEvery;
    const std::int64_t renewed_before =
        unix_ms_now() - std::chrono::duration_cast<std::chrono::milliseconds>(limits_.session_idle_timeout + kRenewEvery).count();
    tasks_.post([this, renewed_before] {
        auto removed = pool_.remove_idle_sessions(renewed_before);
        if (!removed.ok())
            log_warn("sweeping the shared session directory: " + removed.error());
        else if (removed.value() > 0)
            log_info("removed " + std::to_string(removed.value()) + " session(s) that no gateway served within the idle timeout");
    });
}

void SessionManager::expire_shared(WorkerPtr worker, std::string claim) {
    // A gateway renews a claim at most every kRenewEvery while it serves the session: a claim
    // renewed later than that before this gateway's idle timeout began may be in use elsewhere.
    auto found = pool_.find_session(claim);
    const std::int64_t quiet_since =
        unix_ms_now() - std::chrono::duration_cast<std::chrono::milliseconds>(limits_.session_idle_timeout + kRenewEvery).count();
    const bool in_use_elsewhere = !found.ok() || (found.value() && found.value()->worker.worker_id == worker->id &&
                                                  found.value()->renewed_unix_ms > quiet_since);
    let_go(worker, claim, in_use_elsewhere,
           in_use_elsewhere ? "session idle here, served by another gateway" : "session expired");
}

void SessionManager::interrupt_execution(const std::string& user, InterruptDone done) {
    WorkerPtr worker;
    bool found = false;
    {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(user);
        found = it != sessions_.end();
        if (found && it->second.running && it->second.worker) {
            worker = it->second.worker;
            it->second.interrupted = it->second.execution;
        }
    }
    if (!found) {
        done(ApiError{ErrorReason::not_found, "no session for user_uuid " + user});
        return;
    }
    if (!worker) {
        done(false);
        return;
    }
    hub_.request(worker->id, protocol::InterruptRequest{}, AgentChannel::Clock::now() + config_.interrupt_grace,
                 [done = std::move(done), grace = config_.interrupt_grace](AgentReply reply) {
                     if (reply.status == AgentReply::Status::ok)
                         done(reply.body.value("interrupted", false));
                     else  // the agent answers an interrupt at once: no answer means it is gone
                         done(unanswered_error(reply, "the interrupt", grace, ErrorReason::worker_lost));
                 });
}

void SessionManager::call_agent(const std::string& user, protocol::Request request, std::chrono::milliseconds timeout,
                                AgentCallDone done) {
    std::uint64_t new_session = 0;
    AgentCallAnswer answer;
    WorkerPtr worker;
    {
        std::unique_lock lock(mu_);
        if (shutting_down_ || draining_) {
            lock.unlock();
            done(ApiError{ErrorReason::shutting_down, "the gateway is stopping"});
            return;
        }
        Session& session = session_of_locked(user, new_session, answer.previous_session);
        answer.new_session = new_session != 0;
        session.last_used = Clock::now();
        worker = session.worker;
        if (!worker) {
            session.waiting_for_worker.push_back(
                [this, request = std::move(request), timeout, answer, done](WorkerPtr worker,
                                                                            std::optional<ApiError> error) mutable {
                    if (error)
                        done(std::move(*error));
                    else
                        send_call(worker, std::move(request), timeout, std::move(answer), std::move(done));
                });
        }
    }
    if (worker) send_call(worker, std::move(request), timeout, std::move(answer), std::move(done));
    if (new_session != 0) acquire_for(user, new_session);
}

// An agent error here is about the request (a missing file, say), not the worker: it stays.
void SessionManager::send_call(const WorkerPtr& worker, protocol::Request request, std::chrono::milliseconds timeout,
                               AgentCallAnswer answer, AgentCallDone done) {
    hub_.request(worker->id, request, AgentChannel::Clock::now() + timeout,
                 [answer = std::move(answer), done = std::move(done), timeout](AgentReply reply) mutable {
                     if (reply.status != AgentReply::Status::ok && reply.status != AgentReply::Status::agent_error) {
                         done(unanswered_error(reply, "the file operation", timeout));
                         return;
                     }
                     answer.ok = reply.status == AgentReply::Status::ok;
                     answer.body = std::move(reply.body);
                     done(std::move(answer));
                 });
}

void SessionManager::on_acquired(const std::string& user, std::uint64_t session_id, WorkerPtr worker,
                                 std::optional<ApiError> error, const std::string& claim, bool adopted) {
    std::deque<Done> to_fail;
    std::vector<WorkerWaiter> waiters;
    std::int64_t started_unix_ms = 0;
    {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(user);
        bool current = it != sessions_.end() && it->second.id == session_id;
        if (!current) {
            // Released (or stopped) while waiting: the fresh worker goes back to be destroyed (one
            // another gateway serves is only let go).
            if (worker) let_go(worker, claim, adopted, "its session ended before it was used");
            return;
        }
        waiters = std::move(it->second.waiting_for_worker);
        if (error) {
            for (auto& p : it->second.queue) to_fail.push_back(std::move(p.done));
            sessions_.erase(it);
        } else {
            it->second.worker = worker;
            it->second.claim = claim;
            it->second.renewed = Clock::now();
            if (adopted)  // its kernel already holds the user's state
                for (auto& p : it->second.queue) {
                    p.new_session = false;
                    p.previous_session.clear();
                }
            started_unix_ms = it->second.started_unix_ms;
            log_info("session " + std::to_string(session_id) + " of tenant " + std::string(tenant_of(user)) +
                     (adopted ? " taken up from the shared directory" : " started") + " on worker " + worker->id);
            start_next(user, it->second);
        }
    }
    if (error)
        fail_all(to_fail, *error);
    else if (!adopted)
        pool_.assign(worker, user, started_unix_ms);
    for (auto& waiter : waiters) waiter(worker, error);
}

void SessionManager::start_next(const std::string& user, Session& session) {
    if (session.running || !session.worker || session.queue.empty()) return;
    if (!admission_.enter({user, session.id})) {
        arm_slot_timer_locked();
        return;
    }
    send_next(user, session);
}

void SessionManager::admit_waiting_locked() {
    while (auto ticket = admission_.admit()) {
        auto it = sessions_.find(ticket->user);
        bool ready = it != sessions_.end() && it->second.id == ticket->session_id && !it->second.running &&
                     it->second.worker && !it->second.queue.empty();
        if (ready)
            send_next(ticket->user, it->second);
        else
            admission_.leave();  // the session ended (or ran) meanwhile
    }
}

void SessionManager::free_slot(std::uint64_t execution) {
    std::lock_guard lock(mu_);
    if (holding_slot_.erase(execution) == 0) return;
    admission_.leave();
    admit_waiting_locked();
}

void SessionManager::arm_slot_timer_locked() {
    if (slot_timer_armed_ || holding_slot_.empty()) return;
    slot_timer_armed_ = true;
    const auto delay = std::max(holding_slot_.begin()->second - Clock::now(), Clock::duration::zero());
    tasks_.post_after(delay, [this] { expire_slots(); });
}

void SessionManager::expire_slots() {
    std::lock_guard lock(mu_);
    slot_timer_armed_ = false;
    const auto now = Clock::now();
    while (!holding_slot_.empty() && holding_slot_.begin()->second <= now) {
        holding_slot_.erase(holding_slot_.begin());
        admission_.leave();
    }
    admit_waiting_locked();
    if (admission_.waiting() > 0) arm_slot_timer_locked();
}

// Holds a slot of admission_.
void SessionManager::send_next(const std::string& user, Session& session) {
    const std::uint64_t execution = next_execution_++;
    holding_slot_.emplace(execution, Clock::now() + config_.running_slot_time);
    Pending next = std::move(session.queue.front());
    session.queue.pop_front();
    session.running = true;
    session.execution = execution;
    session.last_used = Clock::now();
    protocol::ExecuteRequest request{.code = std::move(next.code),
                                     .max_output_bytes = config_.max_output_bytes,
                                     .store_history = next.options.store_history,
                                     .stream = static_cast<bool>(next.options.on_output)};
    next.code.clear();
    AgentChannel::EventCallback on_event;
    if (next.options.on_output) {
        on_event = [on_output = next.options.on_output, worker_id = session.worker->id](const nlohmann::json& event) {
            protocol::OutputItem item;
            try {
                item = event.get<protocol::OutputItem>();
            } catch (const std::exception& e) {
                log_warn("worker " + worker_id + ": dropped a malformed output event: " + e.what());
                return;
            }
            on_output(item);
        };
    }
    auto deadline = AgentChannel::Clock::now() + config_.timeout;
    hub_.request(
        session.worker->id, std::move(request), deadline,
        [this, user, id = session.id, worker = session.worker, next = std::move(next), execution](AgentReply reply) mutable {
            free_slot(execution);
            on_reply(user, id, execution, std::move(worker), std::move(next), std::move(reply));
        },
        std::move(on_event));
}

void SessionManager::on_reply(const std::string& user, std::uint64_t session_id, std::uint64_t execution,
                              WorkerPtr worker, Pending request, AgentReply reply) {
    Done done = std::move(request.done);
    if (reply.status == AgentReply::Status::ok) {
        ExecutionOutcome outcome;
        try {
            outcome = ExecutionAnswer{reply.body.at("result").get<protocol::ExecutionResult>(), request.new_session,
                                      request.previous_session};
        } catch (const std::exception& e) {
            outcome = ApiError{ErrorReason::internal, std::string("malformed result from the agent: ") + e.what()};
        }
        if (auto* answer = std::get_if<ExecutionAnswer>(&outcome))
            answer->interrupted = was_interrupted(user, session_id, execution, answer->result);
        execution_finished(user, session_id);
        done(std::move(outcome));
        return;
    }

    execution_failed(user, session_id, std::move(worker), std::move(done), std::move(reply));
}

bool SessionManager::was_interrupted(const std::string& user, std::uint64_t session_id, std::uint64_t execution,
                                     const protocol::ExecutionResult& result) const {
    {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(user);
        if (it == sessions_.end() || it->second.id != session_id || it->second.interrupted != execution) return false;
    }
    return result.status == "error" && std::any_of(result.outputs.begin(), result.outputs.end(), [](const auto& item) {
               return item.type == "error" && item.ename == "KeyboardInterrupt";
           });
}

// The session's execution ended and its kernel is usable: run what waits behind it.
void SessionManager::execution_finished(const std::string& user, std::uint64_t session_id) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(user);
    if (it == sessions_.end() || it->second.id != session_id) return;
    it->second.running = false;
    it->second.last_used = Clock::now();
    start_next(user, it->second);
}

std::deque<SessionManager::Pending> SessionManager::end_session_locked(const std::string& user, const std::string& why) {
    auto it = sessions_.find(user);
    std::deque<Pending> queued = std::move(it->second.queue);
    log_info("session " + std::to_string(it->second.id) + " ended: " + why);
    sessions_.erase(it);
    return queued;
}

bool SessionManager::release(const std::string& user) {
    std::deque<Pending> queued;
    std::vector<WorkerWaiter> waiters;
    WorkerPtr worker;
    {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(user);
        if (it == sessions_.end()) return false;
        worker = it->second.worker;
        waiters = std::move(it->second.waiting_for_worker);
        queued = end_session_locked(user, "released");
    }
    ApiError released{ErrorReason::session_released, "the session was released before this request ran"};
    for (auto& p : queued) p.done(released);
    for (auto& waiter : waiters) waiter(nullptr, released);
    // A session still waiting for the pool has no worker yet: on_acquired retires it when it comes.
    if (worker) pool_.retire(worker, "session released");
    return true;
}

SessionStats SessionManager::stats() const {
    std::lock_guard lock(mu_);
    SessionStats s;
    s.sessions = static_cast<int>(sessions_.size());
    for (const auto& [user, session] : sessions_) {
        s.running += session.running ? 1 : 0;
        s.queued += static_cast<int>(session.queue.size());
    }
    s.admission_waiting = static_cast<int>(admission_.waiting());
    return s;
}

void SessionManager::on_worker_lost(const std::string& worker_id, AgentChannel::Loss loss) {
    const bool violation = loss == AgentChannel::Loss::violation;
    WorkerPtr worker;
    std::deque<Pending> queued;
    {
        std::lock_guard lock(mu_);
        auto it = std::find_if(sessions_.begin(), sessions_.end(), [&](const auto& entry) {
            return entry.second.worker && entry.second.worker->id == worker_id && !entry.second.running;
        });
        if (it == sessions_.end()) return;  // a running execution answers the loss itself
        worker = it->second.worker;
        expired_[it->first] = Expiry{violation ? "protocol_violation" : "worker_lost", Clock::now()};
        queued = end_session_locked(it->first, violation ? "its worker's agent broke the protocol"
                                                         : "its worker's agent went away");
    }
    for (auto& p : queued)
        p.done(violation ? ApiError{ErrorReason::protocol_violation, "the session's worker broke the protocol"}
                         : ApiError{ErrorReason::worker_lost, "the session's worker went away"});
    pool_.retire(worker, violation ? "its agent broke the protocol between executions"
                                   : "its agent went away between executions");
}

void SessionManager::drain(std::chrono::milliseconds timeout) {
    auto busy = [this] {
        std::lock_guard lock(mu_);
        draining_ = true;
        return std::any_of(sessions_.begin(), sessions_.end(),
                           [](const auto& entry) { return entry.second.running || !entry.second.queue.empty(); });
    };
    // Shutdown is rare and short: polling keeps every other path free of drain bookkeeping.
    auto until = Clock::now() + timeout;
    bool waiting = busy();
    if (waiting) log_info("draining: waiting up to " + std::to_string(timeout.count()) + " ms for running executions");
    while (waiting && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        waiting = busy();
    }
    if (waiting) log_warn("draining: executions still running after " + std::to_string(timeout.count()) + " ms");
}

void SessionManager::shutdown() {
    std::vector<std::string> users;
    std::vector<WorkerPtr> shared;
    std::deque<Pending> queued;
    {
        std::lock_guard lock(mu_);
        shutting_down_ = true;
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            if (it->second.claim.empty() || !it->second.worker) {
                users.push_back((it++)->first);
                continue;
            }
            // In the shared directory: the other gateways carry on with it.
            shared.push_back(it->second.worker);
            for (auto& p : it->second.queue) queued.push_back(std::move(p));
            it = sessions_.erase(it);
        }
    }
    for (auto& p : queued) p.done(ApiError{ErrorReason::shutting_down, "the gateway is stopping"});
    for (const auto& worker : shared) pool_.forget(worker, "the gateway is stopping; its session stays claimed");
    for (const auto& user : users) release(user);
}

void SessionManager::detach() {
    std::deque<Pending> queued;
    std::vector<WorkerWaiter> waiters;
    {
        std::lock_guard lock(mu_);
        shutting_down_ = true;
        for (auto& [user, session] : sessions_) {
            for (auto& p : session.queue) queued.push_back(std::move(p));
            for (auto& waiter : session.waiting_for_worker) waiters.push_back(std::move(waiter));
        }
        sessions_.clear();
    }
    ApiError stopping{ErrorReason::shutting_down, "the gateway is stopping"};
    for (auto& p : queued) p.done(stopping);
    for (auto& waiter : waiters) waiter(nullptr, stopping);
}

}  // namespace ci
