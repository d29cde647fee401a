#include "worker_pool.hpp"

#include <algorithm>
#include <atomic>
#include <unordered_set>

#include "agent_errors.hpp"
#include "code_interpreter/crypto/crypto.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace ci {
namespace {

using plugin::FailureKind;
using Clock = TaskRunner::Clock;

// How often the pool checks workers under creation and retries failed removals.
constexpr auto kReconcileInterval = std::chrono::seconds(1);
// How long after a lease its replacement's creation starts (see acquire).
constexpr auto kRefillDelay = std::chrono::milliseconds(100);
// A worker being created is inspected once it has taken this long (its container may be dead).
constexpr auto kInspectStartingAfter = std::chrono::seconds(1);
// Sessions that start at most this far apart make one crowd (idle_target_locked).
constexpr auto kCrowdSpan = std::chrono::seconds(10);
// How many of the latest creations /status summarises (ready_ms_p50, ready_ms_max).
constexpr std::size_t kReadySamples = 32;
// How long a saved worker's agent has to answer before it is not adopted.
constexpr auto kAdoptPingTimeout = std::chrono::seconds(5);

// Plugin calls never let an exception into the core.
template <class F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const std::exception& e) {
        return decltype(f())::failure(std::string(what) + " threw: " + e.what());
    } catch (...) {
        return decltype(f())::failure(std::string(what) + " threw an unknown exception");
    }
}

// 0.5 s, 1 s, 2 s ... capped at 30 s; an unreachable backend is probed every 2 s at most, so the
// pool is rebuilt soon after it is back.
std::chrono::milliseconds backoff(int failures, FailureKind kind) {
    const long long cap = kind == FailureKind::unavailable ? 2'000 : 30'000;
    return std::chrono::milliseconds(std::min(500LL << std::min(failures - 1, 6), cap));
}

std::int64_t ms_between(Clock::time_point from, Clock::time_point to) {
    return std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count());
}

bool power_of_two(int n) { return n > 0 && (n & (n - 1)) == 0; }

}  // namespace

WorkerPool::WorkerPool(const PoolConfig& pool, const WorkerConfig& worker, plugin::IsolationBackend& backend,
                       plugin::StorageProvider* storage, AgentChannel& hub, TaskRunner& tasks, Metrics& metrics)
    : pool_(pool), worker_(worker), backend_(backend), storage_(storage), hub_(hub), tasks_(tasks), metrics_(metrics),
      state_(pool.state_file) {
    hub_.set_on_lost([this](const std::string& worker_id, AgentChannel::Loss loss) { on_worker_lost(worker_id, loss); });
}

void WorkerPool::set_on_leased_lost(LostCallback callback) { on_leased_lost_ = std::move(callback); }

// An idle worker whose agent went away or broke the protocol is replaced at once; a leased one is
// its session's.
void WorkerPool::on_worker_lost(const std::string& worker_id, AgentChannel::Loss loss) {
    WorkerPtr lost;
    {
        std::lock_guard lock(mu_);
        auto it = std::find_if(idle_.begin(), idle_.end(), [&](const WorkerPtr& w) { return w->id == worker_id; });
        if (it != idle_.end()) {
            lost = *it;
            idle_.erase(it);
        }
    }
    if (lost)
        destroy(lost, loss == AgentChannel::Loss::violation ? "its agent broke the protocol while idle"
                                                            : "its agent went away while idle");
    else if (on_leased_lost_)
        on_leased_lost_(worker_id, loss);
}

Adoption WorkerPool::start() {
    auto listed = guarded("list_workers", [&] { return backend_.list_workers(); });
    if (!listed.ok()) throw std::runtime_error("cannot list existing workers: " + listed.error());
    Adoption adoption;
    adopt(listed.value(), adoption);

    if (storage_) {
        auto volumes = guarded("list_volumes", [&] { return storage_->list_volumes(); });
        if (!volumes.ok()) throw std::runtime_error("cannot list existing volumes: " + volumes.error());
        for (const auto& id : volumes.value()) {
            if (ready_.count(id) && ready_[id].has_volume) continue;
            log_info("removing volume of worker " + id + " left by an earlier run");
            auto status = guarded("release", [&] { return storage_->release(id); });
            if (!status.ok()) throw std::runtime_error("cannot remove leftover volume " + id + ": " + status.error());
        }
    }
    persist();
    {
        std::lock_guard lock(mu_);
        initial_fill_done_ = static_cast<int>(ready_.size()) >= pool_.min_idle_workers;
    }
    tasks_.post_after(kReconcileInterval, [this] { reconcile(); });
    fill();
    return adoption;
}

// Runs before anything else uses the pool: no lock needed for the maps, but the agents' answers
// arrive on the hub's thread.
void WorkerPool::adopt(const std::vector<plugin::WorkerHandle>& listed, Adoption& adoption) {
    std::unordered_map<std::string, SavedWorker> saved;
    if (state_.enabled()) {
        try {
            for (auto& w : state_.load()) saved.emplace(w.id, std::move(w));
        } catch (const std::exception& e) {
            log_warn(std::string("ignoring the pool state file: ") + e.what());
        }
    }

    struct Candidate {
        WorkerPtr worker;
        SavedWorker saved;
        bool answered = false;
    };
    std::vector<Candidate> candidates;
    std::vector<std::string> doomed;
    for (const auto& handle : listed) {
        auto it = saved.find(handle.worker_id);
        std::string why = it == saved.end()           ? "unknown to the pool state file (half-created or from an older run)"
                          : !handle.stale.empty()     ? handle.stale
                          : handle.agent_endpoint.empty() ? "it has no agent endpoint"
                                                          : "";
        if (!why.empty()) {
            log_info("removing worker " + handle.worker_id + " left by an earlier run: " + why);
            doomed.push_back(handle.worker_id);
            continue;
        }
        auto worker = std::make_shared<Worker>(Worker{handle.worker_id, it->second.key, handle, it->second.has_volume});
        candidates.push_back(Candidate{worker, it->second});
    }

    // Ping the candidates together; only an agent that answers with the saved key is adopted.
    std::mutex answers_mu;
    std::condition_variable answers_cv;
    std::size_t answers = 0;
    for (auto& c : candidates) {
        hub_.connect(c.worker->id, c.worker->handle.agent_endpoint, c.worker->key);
        hub_.request(c.worker->id, protocol::PingRequest{}, Clock::now() + kAdoptPingTimeout, [&, &c = c](AgentReply reply) {
            std::lock_guard lock(answers_mu);
            c.answered = reply.status == AgentReply::Status::ok;
            if (!c.answered) log_info("not adopting worker " + c.worker->id + ": its agent did not answer: " + reply.message);
            ++answers;
            answers_cv.notify_all();
        });
    }
    {
        std::unique_lock lock(answers_mu);
        answers_cv.wait(lock, [&] { return answers == candidates.size(); });
    }

    std::unordered_set<std::string> adopted_users;
    for (auto& c : candidates) {
        if (!c.answered) {
            hub_.disconnect(c.worker->id, "not adopted");
            doomed.push_back(c.worker->id);
            continue;
        }
        ready_[c.worker->id] = c.saved;
        if (c.saved.user.empty()) {
            idle_.push_back(c.worker);
        } else {
            ++leased_;
            adopted_users.insert(c.saved.user);
            adoption.sessions.push_back(AdoptedSession{c.saved.user, c.worker, c.saved.session_started_ms});
        }
    }
    for (const auto& [id, w] : saved)
        if (!w.user.empty() && !adopted_users.count(w.user)) adoption.lost_users.push_back(w.user);
    if (!candidates.empty() || !saved.empty())
        log_info("adopted " + std::to_string(idle_.size() + adoption.sessions.size()) + " worker(s) (" +
                 std::to_string(adoption.sessions.size()) + " with a session); " +
                 std::to_string(adoption.lost_users.size()) + " saved session(s) could not be kept");

    for (const auto& id : doomed) {
        auto status = guarded("destroy_worker", [&] { return backend_.destroy_worker(id); });
        if (!status.ok()) throw std::runtime_error("cannot remove leftover worker " + id + ": " + status.error());
    }
}

void WorkerPool::acquire(AcquireCallback callback) {
    std::unique_lock lock(mu_);
    if (shutting_down_) {
        lock.unlock();
        callback(nullptr, ApiError{ErrorReason::shutting_down, "the gateway is stopping"});
        return;
    }
    note_arrival_locked(Clock::now());
    if (!idle_.empty()) {
        WorkerPtr worker = idle_.front();
        idle_.pop_front();
        ++leased_;
        lock.unlock();
        raise_priority(worker);
        callback(std::move(worker), std::nullopt);
        // Replace it in the background, a moment later: a creation's first steps take both cores
        // of a small host for a while, and the new session's first execution should not wait.
        tasks_.post_after(kRefillDelay, [this] { fill(); });
        return;
    }
    int total = static_cast<int>(idle_.size()) + creating_ + leased_ + destroying_;
    bool at_limit = total >= pool_.max_total_workers;
    // While the backend is down, an image is missing or the host is out of space, waiting would
    // only end in a timeout: say so now, unless a probe can start (back-off over, room left).
    // Before the limit check: failed creations' removals may fill the pool until the backend is back.
    if (consecutive_failures_ > 0 && failure_kind_ != FailureKind::other && creating_ == 0 &&
        (Clock::now() < retry_after_ || at_limit)) {
        std::string why = last_create_error_;
        lock.unlock();
        callback(nullptr, creation_error(why));
        return;
    }
    // At the limit, a new session can only wait for a creation already under way.
    if (at_limit && static_cast<int>(waiters_.size()) >= creating_) {
        lock.unlock();
        callback(nullptr, ApiError{ErrorReason::pool_exhausted,
                                   "no worker available: all " + std::to_string(pool_.max_total_workers) +
                                       " workers (max_total_workers) are in use; retry later"});
        return;
    }
    std::uint64_t id = next_waiter_++;
    waiters_.push_back(Waiter{id, std::move(callback)});
    lock.unlock();
    tasks_.post_after(pool_.acquire_timeout, [this, id] { expire_waiter(id); });
    fill();
}

void WorkerPool::assign(const WorkerPtr& worker, const std::string& user, std::int64_t started_ms) {
    {
        std::lock_guard lock(mu_);
        auto it = ready_.find(worker->id);
        if (it == ready_.end()) return;
        it->second.user = user;
        it->second.session_started_ms = started_ms;
    }
    persist();
}

void WorkerPool::expire_waiter(std::uint64_t id) {
    std::unique_lock lock(mu_);
    auto it = std::find_if(waiters_.begin(), waiters_.end(), [id](const Waiter& w) { return w.id == id; });
    if (it == waiters_.end()) return;
    auto callback = std::move(it->callback);
    waiters_.erase(it);
    std::string detail = last_create_error_.empty() ? "" : " (last creation error: " + last_create_error_ + ")";
    lock.unlock();
    callback(nullptr, ApiError{ErrorReason::pool_exhausted, "no worker became available within " +
                                                                std::to_string(pool_.acquire_timeout.count()) +
                                                                " ms" + detail});
}

// Starts as many creations as the targets ask for: enough for every waiter plus min_idle idle
// workers, within max_total_workers and create_concurrency.
void WorkerPool::fill() {
    int to_start = 0;
    int for_demand = 0;
    {
        std::lock_guard lock(mu_);
        if (shutting_down_) return;
        auto now = Clock::now();
        if (consecutive_failures_ > 0 && now < retry_after_) {
            if (!retry_scheduled_) {
                retry_scheduled_ = true;
                tasks_.post_after(retry_after_ - now, [this] {
                    {
                        std::lock_guard inner(mu_);
                        retry_scheduled_ = false;
                    }
                    fill();
                });
            }
            return;
        }
        int idle = static_cast<int>(idle_.size());
        int total = idle + creating_ + leased_ + destroying_;
        const int waiting = static_cast<int>(waiters_.size());
        int wanted = waiting + idle_target_locked(now) - idle - creating_;
        int room = pool_.max_total_workers - total;
        int concurrency = pool_.create_concurrency - creating_;
        // After a failure, probe with one creation at a time.
        if (consecutive_failures_ > 0) concurrency = std::min(concurrency, 1 - creating_);
        to_start = std::max(0, std::min({wanted, room, concurrency}));
        // Waiting sessions not yet covered by a creation get the first ones: at full priority, and
        // without the preload, which would make them wait for imports their code may not need.
        for_demand = std::clamp(waiting - creating_, 0, to_start);
        creating_ += to_start;
    }
    for (int i = 0; i < to_start; ++i) {
        const bool waited_for = i < for_demand;
        tasks_.post([this, waited_for] { create_one(waited_for); });
    }
}

void WorkerPool::note_arrival_locked(Clock::time_point now) {
    if (pool_.arrival_window.count() <= 0) return;
    while (!arrivals_.empty() && now - arrivals_.front() >= pool_.arrival_window) arrivals_.pop_front();
    arrivals_.push_back(now);
}

int WorkerPool::idle_target_locked(Clock::time_point now) const {
    // The largest crowd within the window: arrivals kCrowdSpan apart at most count together, so a
    // steady trickle of sessions does not add up to a large target, a crowd does.
    auto first = std::upper_bound(arrivals_.begin(), arrivals_.end(), now - pool_.arrival_window);
    int crowd = 0;
    for (auto last = first; last != arrivals_.end(); ++last) {
        while (*last - *first > kCrowdSpan) ++first;
        crowd = std::max(crowd, static_cast<int>(last - first) + 1);
    }
    return std::max(pool_.min_idle_workers, crowd);
}

// Idle workers beyond the target once the arrivals that raised it have aged out: the pool goes
// back to min_idle_workers rather than holding a past crowd's memory.
void WorkerPool::trim_idle() {
    std::vector<WorkerPtr> surplus;
    {
        std::lock_guard lock(mu_);
        if (shutting_down_) return;
        const int target = idle_target_locked(Clock::now());
        while (static_cast<int>(idle_.size()) > target) {
            surplus.push_back(idle_.back());
            idle_.pop_back();
            ready_.erase(surplus.back()->id);
        }
    }
    if (surplus.empty()) return;
    persist();
    for (auto& worker : surplus) destroy(std::move(worker), "the pool shrinks back to its idle target");
}

void WorkerPool::raise_priority(const WorkerPtr& worker) {
    auto raised = guarded("worker_leased", [&] { return backend_.worker_leased(worker->handle); });
    if (!raised.ok()) log_warn("worker " + worker->id + ": could not raise its CPU priority: " + raised.error());
}

void WorkerPool::create_one(bool waited_for) {
    auto worker = std::make_shared<Worker>();
    worker->id = crypto::random_hex(6);
    worker->key = crypto::random_hex(32);
    auto started = Clock::now();

    plugin::WorkerSpec spec;
    spec.worker_id = worker->id;
    spec.limits = plugin::WorkerLimits{worker_.cpu, worker_.ram_mb, worker_.pids_limit, worker_.tmp_mb};
    spec.agent_key = worker->key;
    spec.workspace_mb = worker_.disk_mb;
    if (!waited_for) spec.preload_modules = worker_.preload;
    spec.ahead_of_demand = !waited_for && pool_.low_priority_refills;
    if (storage_) {
        auto volume = guarded("allocate", [&] { return storage_->allocate(worker->id, worker_.disk_mb); });
        if (!volume.ok()) return on_create_failed("workspace volume: " + volume.error(), volume.kind());
        spec.workspace_host_path = volume.value().host_path;
        worker->has_volume = true;
    }
    auto handle = guarded("create_worker", [&] { return backend_.create_worker(spec); });
    if (!handle.ok()) {
        // The backend undoes what it made, but cannot when it lost its daemon half-way: removal
        // (of the volume too) is retried until it succeeds.
        {
            std::lock_guard lock(mu_);
            ++destroying_;
        }
        tasks_.post([this, worker] { remove(worker, "its creation failed", true); });
        return on_create_failed(handle.error(), handle.kind());
    }
    worker->handle = handle.value();
    {
        std::lock_guard lock(mu_);
        starting_[worker->id] = Starting{worker, started};
    }

    hub_.connect(worker->id, worker->handle.agent_endpoint, worker->key);
    WorkerPtr ready = worker;
    hub_.request(worker->id, protocol::PingRequest{}, started + pool_.worker_start_timeout,
                 [this, ready, started](AgentReply reply) {
                     {
                         std::lock_guard lock(mu_);
                         starting_.erase(ready->id);
                     }
                     if (reply.status == AgentReply::Status::ok) {
                         const std::int64_t ready_ms = ms_between(started, Clock::now());
                         metrics_.worker_created(Clock::now() - started);
                         log_info("worker " + ready->id + " ready in " + std::to_string(ready_ms) + " ms");
                         {
                             std::lock_guard lock(mu_);
                             ready_ms_.push_back(ready_ms);
                             if (ready_ms_.size() > kReadySamples) ready_ms_.pop_front();
                         }
                         on_ready(ready);
                         return;
                     }
                     std::string why = "agent of worker " + ready->id + " did not become ready: " + reply.message;
                     destroy(ready, why);
                     on_create_failed(why, FailureKind::other);
                 });
}

void WorkerPool::on_ready(const WorkerPtr& worker) {
    std::unique_lock lock(mu_);
    --creating_;
    if (consecutive_failures_ > 0)
        log_info("worker creation works again after " + std::to_string(consecutive_failures_) + " failure(s)");
    consecutive_failures_ = 0;
    last_create_error_.clear();
    if (shutting_down_) {
        lock.unlock();
        destroy(worker, "the gateway is stopping");
        return;
    }
    ready_[worker->id] = SavedWorker{worker->id, worker->key, worker->has_volume, "", 0};
    if (static_cast<int>(ready_.size()) >= pool_.min_idle_workers) initial_fill_done_ = true;
    if (!waiters_.empty()) {
        auto callback = std::move(waiters_.front().callback);
        waiters_.pop_front();
        ++leased_;
        lock.unlock();
        raise_priority(worker);
        callback(worker, std::nullopt);
    } else {
        idle_.push_back(worker);
        lock.unlock();
    }
    persist();
    fill();
}

// Ends one creation attempt (counted in creating_) as failed.
void WorkerPool::on_create_failed(const std::string& why, FailureKind kind) {
    metrics_.worker_creation_failed(kind);
    std::unique_lock lock(mu_);
    --creating_;
    auto now = Clock::now();
    if (consecutive_failures_ == 0) failing_since_ = now;
    ++consecutive_failures_;
    failure_kind_ = kind;
    retry_after_ = now + backoff(consecutive_failures_, kind);
    // A lasting condition is logged at its start and then ever more rarely.
    if (power_of_two(consecutive_failures_) || why != last_create_error_)
        log_error("worker creation failed (" + std::to_string(consecutive_failures_) + " in a row, " +
                  condition_locked() + "): " + why);
    last_create_error_ = why;
    // Waiters beyond what the creations still under way can serve are told now.
    std::deque<Waiter> failed;
    while (static_cast<int>(waiters_.size()) > creating_) {
        failed.push_back(std::move(waiters_.front()));
        waiters_.pop_front();
    }
    lock.unlock();
    drained_.notify_all();
    for (auto& w : failed)
        w.callback(nullptr, creation_error(why));
    fill();
}

plugin::Result<std::optional<plugin::SessionClaim>> WorkerPool::find_session(const std::string& session) {
    return guarded("find_session", [&] { return backend_.find_session(session); });
}

plugin::Status WorkerPool::claim_session(const std::string& session, const WorkerPtr& worker) {
    return guarded("claim_session", [&] { return backend_.claim_session(session, worker->id); });
}

plugin::Status WorkerPool::renew_session(const std::string& session) {
    return guarded("renew_session", [&] { return backend_.renew_session(session); });
}

plugin::Result<int> WorkerPool::remove_idle_sessions(std::int64_t renewed_before_unix_ms) {
    return guarded("remove_idle_sessions", [&] { return backend_.remove_idle_sessions(renewed_before_unix_ms); });
}

WorkerPtr WorkerPool::lease_claimed(const plugin::SessionClaim& claim) {
    auto worker = std::make_shared<const Worker>(Worker{claim.worker.worker_id, claim.agent_key, claim.worker, false});
    {
        std::lock_guard lock(mu_);
        ++leased_;
    }
    hub_.connect(worker->id, worker->handle.agent_endpoint, worker->key);
    return worker;
}

void WorkerPool::forget(const WorkerPtr& worker, const std::string& why) {
    bool was_ready;
    {
        std::lock_guard lock(mu_);
        --leased_;
        was_ready = ready_.erase(worker->id) > 0;
    }
    if (was_ready) persist();
    hub_.disconnect(worker->id, why);
}

void WorkerPool::retire(WorkerPtr worker, const std::string& why) {
    {
        std::lock_guard lock(mu_);
        --leased_;
    }
    destroy(std::move(worker), why);
}

void WorkerPool::destroy(WorkerPtr worker, const std::string& why) {
    bool was_ready;
    {
        std::lock_guard lock(mu_);
        ++destroying_;
        was_ready = ready_.erase(worker->id) > 0;
    }
    if (was_ready) persist();
    hub_.disconnect(worker->id, why);
    tasks_.post([this, worker, why] { remove(worker, why, true); });
}

// Removes a worker (counted in destroying_) and its volume; on failure it stays counted and the
// reconciler tries again, so a daemon that was down cannot leave workers behind.
void WorkerPool::remove(const WorkerPtr& worker, const std::string& why, bool first_attempt) {
    if (first_attempt) log_info("destroying worker " + worker->id + ": " + why);
    auto status = guarded("destroy_worker", [&] { return backend_.destroy_worker(worker->id); });
    if (status.ok() && worker->has_volume) status = guarded("release", [&] { return storage_->release(worker->id); });
    if (!status.ok()) {
        if (first_attempt) log_error("worker " + worker->id + " not removed yet (retrying): " + status.error());
        std::lock_guard lock(mu_);
        zombies_.push_back(worker);
        return;
    }
    if (!first_attempt) log_info("worker " + worker->id + " removed at last");
    {
        std::lock_guard lock(mu_);
        --destroying_;
    }
    drained_.notify_all();
    fill();
}

// Runs every second: retries failed removals, fails creations whose worker died before its agent
// ever answered (otherwise noticed only at worker_start_timeout), and refills a pool that lost
// workers while nothing else asked for a creation (within the back-off).
void WorkerPool::reconcile() {
    std::vector<WorkerPtr> retry;
    std::vector<WorkerPtr> check;
    {
        std::lock_guard lock(mu_);
        retry.swap(zombies_);
        auto now = Clock::now();
        for (const auto& [id, s] : starting_)
            if (now - s.since >= kInspectStartingAfter) check.push_back(s.worker);
    }
    for (const auto& worker : retry) remove(worker, "retry", false);
    trim_idle();
    for (const auto& worker : check) {
        auto status = inspect(worker);
        if (!status.ok() || status.value().state == plugin::WorkerState::running) continue;
        bool still_starting;
        {
            std::lock_guard lock(mu_);
            still_starting = starting_.count(worker->id) > 0;
        }
        if (still_starting)
            hub_.disconnect(worker->id, "the worker stopped before its agent answered (" + status.value().detail + ")");
    }
    fill();
    tasks_.post_after(kReconcileInterval, [this] { reconcile(); });
}

plugin::Result<plugin::WorkerStatus> WorkerPool::inspect(const WorkerPtr& worker) {
    return guarded("inspect_worker", [&] { return backend_.inspect_worker(worker->id); });
}

std::string WorkerPool::condition_locked() const {
    if (consecutive_failures_ == 0) return "ok";
    switch (failure_kind_) {
        case FailureKind::unavailable: return "backend_unavailable";
        case FailureKind::not_found: return "image_missing";
        case FailureKind::exhausted: return "host_exhausted";
        case FailureKind::conflict:
        case FailureKind::other: break;
    }
    return "creation_failing";
}

PoolStats WorkerPool::stats() const {
    std::lock_guard lock(mu_);
    PoolStats s;
    s.idle = static_cast<int>(idle_.size());
    s.busy = leased_;
    s.creating = creating_;
    s.destroying = destroying_;
    s.waiting = static_cast<int>(waiters_.size());
    s.condition = condition_locked();
    s.last_create_error = last_create_error_;
    s.initializing = !initial_fill_done_;
    s.consecutive_failures = consecutive_failures_;
    s.idle_target = idle_target_locked(Clock::now());
    if (!ready_ms_.empty()) {
        std::vector<std::int64_t> sorted(ready_ms_.begin(), ready_ms_.end());
        std::sort(sorted.begin(), sorted.end());
        s.ready_samples = static_cast<int>(sorted.size());
        s.ready_ms_p50 = sorted[sorted.size() / 2];
        s.ready_ms_max = sorted.back();
    }
    if (consecutive_failures_ > 0) {
        auto now = Clock::now();
        s.failing_for_ms = ms_between(failing_since_, now);
        s.next_retry_in_ms = ms_between(now, retry_after_);
    }
    return s;
}

void WorkerPool::persist() {
    if (!state_.enabled()) return;
    std::lock_guard save_lock(save_mu_);
    std::vector<SavedWorker> snapshot;
    {
        std::lock_guard lock(mu_);
        snapshot.reserve(ready_.size());
        for (const auto& [id, w] : ready_) snapshot.push_back(w);
    }
    try {
        state_.save(snapshot);
    } catch (const std::exception& e) {
        log_error(std::string("cannot save the pool state (a restart would not keep sessions): ") + e.what());
    }
}

std::deque<WorkerPtr> WorkerPool::stop_creating() {
    std::deque<WorkerPtr> idle;
    std::deque<Waiter> waiters;
    {
        std::lock_guard lock(mu_);
        shutting_down_ = true;
        idle.swap(idle_);
        waiters.swap(waiters_);
    }
    for (auto& w : waiters) w.callback(nullptr, ApiError{ErrorReason::shutting_down, "the gateway is stopping"});
    return idle;
}

void WorkerPool::wait_until(std::chrono::milliseconds wait, const std::function<bool()>& done, const char* what) {
    std::unique_lock lock(mu_);
    if (!drained_.wait_for(lock, wait, done))
        log_warn(std::string("shutdown: ") + what + " after " + std::to_string(wait.count()) + " ms");
}

void WorkerPool::shutdown(std::chrono::milliseconds wait) {
    for (auto& worker : stop_creating()) destroy(worker, "the gateway is stopping");
    wait_until(wait, [this] { return creating_ + leased_ + destroying_ == 0; }, "workers still present");
    // Nothing is left to adopt.
    if (state_.enabled()) state_.remove();
}

void WorkerPool::detach(std::chrono::milliseconds wait) {
    std::deque<WorkerPtr> idle = stop_creating();
    {
        std::lock_guard lock(mu_);
        idle_ = std::move(idle);  // kept, not destroyed
    }
    // Workers still being created are destroyed when ready (shutting_down_).
    wait_until(wait, [this] { return creating_ + destroying_ == 0; }, "workers still being created or removed");
    persist();
    std::lock_guard lock(mu_);
    log_info("kept " + std::to_string(ready_.size()) + " worker(s) for the next start (" + state_.path() + ")");
}

}  // namespace ci
