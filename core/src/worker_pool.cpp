#include "worker_pool.hpp"

#include <algorithm>

#include "code_interpreter/protocol/crypto.hpp"
#include "log.hpp"

namespace ci {
namespace {

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

std::chrono::milliseconds backoff(int failures) {
    // 0.5 s, 1 s, 2 s ... capped at 30 s.
    auto ms = 500LL << std::min(failures - 1, 6);
    return std::chrono::milliseconds(std::min<long long>(ms, 30'000));
}

}  // namespace

WorkerPool::WorkerPool(const PoolConfig& pool, const WorkerConfig& worker, plugin::IsolationBackend& backend,
                       plugin::StorageProvider* storage, AgentHub& hub, TaskRunner& tasks)
    : pool_(pool), worker_(worker), backend_(backend), storage_(storage), hub_(hub), tasks_(tasks) {
    hub_.set_on_lost([this](const std::string& worker_id) { on_worker_lost(worker_id); });
}

// An idle worker whose agent went away is replaced at once; a leased one is its session's to
// notice (its next request fails fast with `lost`).
void WorkerPool::on_worker_lost(const std::string& worker_id) {
    WorkerPtr lost;
    {
        std::lock_guard lock(mu_);
        auto it = std::find_if(idle_.begin(), idle_.end(), [&](const WorkerPtr& w) { return w->id == worker_id; });
        if (it == idle_.end()) return;
        lost = *it;
        idle_.erase(it);
    }
    destroy(lost, "its agent went away while idle");
}

void WorkerPool::start() {
    auto leftovers = guarded("list_workers", [&] { return backend_.list_workers(); });
    if (!leftovers.ok()) throw std::runtime_error("cannot list existing workers: " + leftovers.error());
    for (const auto& handle : leftovers.value()) {
        log_info("removing worker " + handle.worker_id + " left by an earlier run");
        auto status = guarded("destroy_worker", [&] { return backend_.destroy_worker(handle.worker_id); });
        if (!status.ok()) throw std::runtime_error("cannot remove leftover worker " + handle.worker_id + ": " + status.error());
    }
    if (storage_) {
        auto volumes = guarded("list_volumes", [&] { return storage_->list_volumes(); });
        if (!volumes.ok()) throw std::runtime_error("cannot list existing volumes: " + volumes.error());
        for (const auto& id : volumes.value()) {
            log_info("removing volume of worker " + id + " left by an earlier run");
            auto status = guarded("release", [&] { return storage_->release(id); });
            if (!status.ok()) throw std::runtime_error("cannot remove leftover volume " + id + ": " + status.error());
        }
    }
    fill();
}

void WorkerPool::acquire(AcquireCallback callback) {
    std::unique_lock lock(mu_);
    if (shutting_down_) {
        lock.unlock();
        callback(nullptr, ApiError{ErrorReason::shutting_down, "the gateway is stopping"});
        return;
    }
    if (!idle_.empty()) {
        WorkerPtr worker = idle_.front();
        idle_.pop_front();
        ++leased_;
        lock.unlock();
        callback(std::move(worker), std::nullopt);
        fill();  // replace it in the background
        return;
    }
    int total = static_cast<int>(idle_.size()) + creating_ + leased_ + destroying_;
    // At the limit, a new session can only wait for a creation already under way.
    if (total >= pool_.max_total_workers && static_cast<int>(waiters_.size()) >= creating_) {
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
    {
        std::lock_guard lock(mu_);
        if (shutting_down_) return;
        auto now = TaskRunner::Clock::now();
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
        int wanted = static_cast<int>(waiters_.size()) + pool_.min_idle_workers - idle - creating_;
        int room = pool_.max_total_workers - total;
        int concurrency = pool_.create_concurrency - creating_;
        // After a failure, probe with one creation at a time.
        if (consecutive_failures_ > 0) concurrency = std::min(concurrency, 1 - creating_);
        to_start = std::max(0, std::min({wanted, room, concurrency}));
        creating_ += to_start;
    }
    for (int i = 0; i < to_start; ++i) tasks_.post([this] { create_one(); });
}

void WorkerPool::create_one() {
    auto worker = std::make_shared<Worker>();
    worker->id = protocol::random_hex(6);
    worker->key = protocol::random_hex(32);
    auto started = TaskRunner::Clock::now();

    plugin::WorkerSpec spec;
    spec.worker_id = worker->id;
    spec.limits = plugin::WorkerLimits{worker_.cpu, worker_.ram_mb, worker_.pids_limit, worker_.tmp_mb};
    spec.agent_key = worker->key;
    spec.workspace_mb = worker_.disk_mb;
    if (storage_) {
        auto volume = guarded("allocate", [&] { return storage_->allocate(worker->id, worker_.disk_mb); });
        if (!volume.ok()) return on_create_failed("workspace volume: " + volume.error());
        spec.workspace_host_path = volume.value().host_path;
        worker->has_volume = true;
    }
    auto handle = guarded("create_worker", [&] { return backend_.create_worker(spec); });
    if (!handle.ok()) {
        if (worker->has_volume) guarded("release", [&] { return storage_->release(worker->id); });
        return on_create_failed(handle.error());
    }
    worker->handle = handle.value();

    hub_.connect(worker->id, worker->handle.agent_endpoint, worker->key);
    WorkerPtr ready = worker;
    hub_.request(worker->id, {{"op", "ping"}}, started + pool_.worker_start_timeout,
                 [this, ready, started](AgentReply reply) {
                     if (reply.status == AgentReply::Status::ok) {
                         auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(TaskRunner::Clock::now() - started);
                         log_info("worker " + ready->id + " ready in " + std::to_string(ms.count()) + " ms");
                         on_ready(ready);
                         return;
                     }
                     std::string why = "agent of worker " + ready->id + " did not become ready: " + reply.message;
                     destroy(ready, why);
                     on_create_failed(why);
                 });
}

void WorkerPool::on_ready(const WorkerPtr& worker) {
    std::unique_lock lock(mu_);
    --creating_;
    consecutive_failures_ = 0;
    last_create_error_.clear();
    if (shutting_down_) {
        lock.unlock();
        destroy(worker, "the gateway is stopping");
        return;
    }
    if (!waiters_.empty()) {
        auto callback = std::move(waiters_.front().callback);
        waiters_.pop_front();
        ++leased_;
        lock.unlock();
        callback(worker, std::nullopt);
    } else {
        idle_.push_back(worker);
        lock.unlock();
    }
    fill();
}

// Ends one creation attempt (counted in creating_) as failed.
void WorkerPool::on_create_failed(const std::string& why) {
    log_error("worker creation failed: " + why);
    std::unique_lock lock(mu_);
    --creating_;
    ++consecutive_failures_;
    retry_after_ = TaskRunner::Clock::now() + backoff(consecutive_failures_);
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
        w.callback(nullptr, ApiError{ErrorReason::backend_unavailable, "cannot create a worker: " + why});
    fill();
}

void WorkerPool::retire(WorkerPtr worker, const std::string& why) {
    {
        std::lock_guard lock(mu_);
        --leased_;
    }
    destroy(std::move(worker), why);
}

void WorkerPool::destroy(WorkerPtr worker, const std::string& why) {
    {
        std::lock_guard lock(mu_);
        ++destroying_;
    }
    hub_.disconnect(worker->id, why);
    tasks_.post([this, worker, why] {
        log_info("destroying worker " + worker->id + ": " + why);
        auto status = guarded("destroy_worker", [&] { return backend_.destroy_worker(worker->id); });
        if (!status.ok()) log_error("worker " + worker->id + ": " + status.error());
        if (worker->has_volume) {
            auto released = guarded("release", [&] { return storage_->release(worker->id); });
            if (!released.ok()) log_error("volume of worker " + worker->id + ": " + released.error());
        }
        {
            std::lock_guard lock(mu_);
            --destroying_;
        }
        drained_.notify_all();
        fill();
    });
}

plugin::Result<plugin::WorkerStatus> WorkerPool::inspect(const WorkerPtr& worker) {
    return guarded("inspect_worker", [&] { return backend_.inspect_worker(worker->id); });
}

PoolStats WorkerPool::stats() const {
    std::lock_guard lock(mu_);
    PoolStats s;
    s.idle = static_cast<int>(idle_.size());
    s.busy = leased_;
    s.creating = creating_;
    s.destroying = destroying_;
    s.waiting = static_cast<int>(waiters_.size());
    s.last_create_error = last_create_error_;
    return s;
}

void WorkerPool::shutdown(std::chrono::milliseconds wait) {
    std::deque<WorkerPtr> idle;
    std::deque<Waiter> waiters;
    {
        std::lock_guard lock(mu_);
        shutting_down_ = true;
        idle.swap(idle_);
        waiters.swap(waiters_);
    }
    for (auto& w : waiters) w.callback(nullptr, ApiError{ErrorReason::shutting_down, "the gateway is stopping"});
    for (auto& worker : idle) destroy(worker, "the gateway is stopping");
    std::unique_lock lock(mu_);
    if (!drained_.wait_for(lock, wait, [this] { return creating_ + leased_ + destroying_ == 0; }))
        log_warn("shutdown: workers still present after " + std::to_string(wait.count()) + " ms");
}

}  // namespace ci
