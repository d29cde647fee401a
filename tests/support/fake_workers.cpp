#include "fake_workers.hpp"

#include <algorithm>

#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci::test {

using namespace std::chrono_literals;

FakeAgentChannel::FakeAgentChannel() : thread_([this] { run(); }) {}

FakeAgentChannel::~FakeAgentChannel() { stop(); }

void FakeAgentChannel::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void FakeAgentChannel::connect(const std::string& worker_id, const std::string&, const std::string&) {
    std::lock_guard lock(mu_);
    connected_.insert(worker_id);
}

void FakeAgentChannel::disconnect(const std::string& worker_id, const std::string& why) {
    std::lock_guard lock(mu_);
    connected_.erase(worker_id);
    answer_all_locked(worker_id, {AgentReply::Status::disconnected, {}, why});
}

void FakeAgentChannel::answer_all_locked(const std::string& worker_id, const AgentReply& reply) {
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.sent.worker_id != worker_id) {
            ++it;
            continue;
        }
        post_locked([callback = std::move(it->second.callback), reply] { callback(reply); });
        it = waiting_.erase(it);
    }
}

void FakeAgentChannel::request(const std::string& worker_id, const protocol::Request& request,
                               Clock::time_point deadline, Callback callback, EventCallback) {
    std::lock_guard lock(mu_);
    Sent sent{next_++, worker_id, request};
    if (!connected_.count(worker_id)) {
        post_locked([callback = std::move(callback)] {
            callback({AgentReply::Status::disconnected, {}, "worker is not connected"});
        });
        return;
    }
    if (std::holds_alternative<protocol::PingRequest>(request) && answers_pings_) {
        post_locked([callback = std::move(callback)] { callback({AgentReply::Status::ok, {{"ready", true}}, ""}); });
        return;
    }
    waiting_.emplace(sent.number, Waiting{std::move(sent), deadline, std::move(callback)});
    changed_.notify_all();
}

void FakeAgentChannel::set_on_lost(LostCallback callback) {
    std::lock_guard lock(mu_);
    on_lost_ = std::move(callback);
}

std::vector<FakeAgentChannel::Sent> FakeAgentChannel::pending() const {
    std::lock_guard lock(mu_);
    std::vector<Sent> out;
    for (const auto& [number, waiting] : waiting_) out.push_back(waiting.sent);
    return out;
}

std::optional<FakeAgentChannel::Sent> FakeAgentChannel::wait_for(const std::function<bool(const Sent&)>& pred,
                                                                 std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    std::optional<Sent> found;
    changed_.wait_for(lock, limit, [&] {
        for (const auto& [number, waiting] : waiting_)
            if (pred(waiting.sent)) {
                found = waiting.sent;
                return true;
            }
        return false;
    });
    return found;
}

std::optional<FakeAgentChannel::Sent> FakeAgentChannel::wait_for_execute(const std::string& code) {
    return wait_for([&](const Sent& sent) {
        const auto* execute = std::get_if<protocol::ExecuteRequest>(&sent.request);
        return execute && execute->code == code;
    });
}

void FakeAgentChannel::answer(std::uint64_t number, AgentReply reply) {
    std::lock_guard lock(mu_);
    auto it = waiting_.find(number);
    if (it == waiting_.end()) return;
    post_locked([callback = std::move(it->second.callback), reply = std::move(reply)]() mutable {
        callback(std::move(reply));
    });
    waiting_.erase(it);
}

AgentReply FakeAgentChannel::result(const std::string& stdout_text, const std::string& status) {
    protocol::ExecutionResult result;
    result.status = status;
    if (!stdout_text.empty()) {
        protocol::OutputItem item;
        item.type = "stream";
        item.name = "stdout";
        item.text = stdout_text;
        result.outputs.push_back(item);
    }
    return {AgentReply::Status::ok, {{"ok", true}, {"result", result}}, ""};
}

void FakeAgentChannel::lose(const std::string& worker_id, Loss loss) {
    std::lock_guard lock(mu_);
    connected_.erase(worker_id);
    answer_all_locked(worker_id, loss == Loss::violation
                                     ? AgentReply{AgentReply::Status::violation, {}, "the worker's agent broke the protocol"}
                                     : AgentReply{AgentReply::Status::lost, {}, "the connection to the worker's agent was lost"});
    post_locked([this, worker_id, loss] {
        LostCallback on_lost;
        {
            std::lock_guard inner(mu_);
            on_lost = on_lost_;
        }
        if (on_lost) on_lost(worker_id, loss);
    });
}

void FakeAgentChannel::set_answers_pings(bool answers) {
    std::lock_guard lock(mu_);
    answers_pings_ = answers;
}

std::set<std::string> FakeAgentChannel::connected() const {
    std::lock_guard lock(mu_);
    return connected_;
}

void FakeAgentChannel::post_locked(std::function<void()> task) {
    tasks_.push_back(std::move(task));
    changed_.notify_all();
}

void FakeAgentChannel::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        // Expired deadlines become timeouts, as in the real hub.
        const auto now = Clock::now();
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            if (it->second.deadline > now) {
                ++it;
                continue;
            }
            tasks_.push_back([callback = std::move(it->second.callback)] {
                callback({AgentReply::Status::timeout, {}, "no answer before the deadline"});
            });
            it = waiting_.erase(it);
        }
        while (!tasks_.empty()) {
            auto task = std::move(tasks_.front());
            tasks_.pop_front();
            lock.unlock();
            task();
            lock.lock();
        }
        if (stopping_) return;
        auto next = Clock::time_point::max();
        for (const auto& [number, waiting] : waiting_) next = std::min(next, waiting.deadline);
        if (next == Clock::time_point::max())
            changed_.wait(lock);
        else
            changed_.wait_until(lock, next);
    }
}

plugin::Result<plugin::WorkerHandle> FakeBackend::create_worker(const plugin::WorkerSpec& spec) {
    std::lock_guard lock(mu_);
    if (failure_) return plugin::Result<plugin::WorkerHandle>::failure(*failure_, failure_kind_);
    ++created_;
    alive_.insert(spec.worker_id);
    if (spec.ahead_of_demand) ahead_of_demand_.insert(spec.worker_id);
    if (!spec.preload_modules.empty()) preloading_.insert(spec.worker_id);
    last_spec_ = spec;
    plugin::WorkerHandle handle;
    handle.worker_id = spec.worker_id;
    handle.agent_endpoint = "inproc://fake-" + spec.worker_id;
    return plugin::Result<plugin::WorkerHandle>::success(handle);
}

plugin::Status FakeBackend::worker_leased(const plugin::WorkerHandle& worker) {
    std::lock_guard lock(mu_);
    leased_.push_back(worker.worker_id);
    return plugin::Status::success();
}

std::set<std::string> FakeBackend::ahead_of_demand() const {
    std::lock_guard lock(mu_);
    return ahead_of_demand_;
}

std::set<std::string> FakeBackend::preloading() const {
    std::lock_guard lock(mu_);
    return preloading_;
}

plugin::WorkerSpec FakeBackend::last_spec() const {
    std::lock_guard lock(mu_);
    return last_spec_;
}

std::vector<std::string> FakeBackend::leased() const {
    std::lock_guard lock(mu_);
    return leased_;
}

plugin::Status FakeBackend::destroy_worker(const std::string& worker_id) {
    std::lock_guard lock(mu_);
    if (alive_.erase(worker_id)) destroyed_.push_back(worker_id);
    return plugin::Status::success();
}

plugin::Result<std::vector<plugin::WorkerHandle>> FakeBackend::list_workers() {
    std::lock_guard lock(mu_);
    std::vector<plugin::WorkerHandle> out;
    for (const auto& id : alive_) {
        plugin::WorkerHandle handle;
        handle.worker_id = id;
        handle.agent_endpoint = "inproc://fake-" + id;
        out.push_back(handle);
    }
    return plugin::Result<std::vector<plugin::WorkerHandle>>::success(out);
}

plugin::Result<plugin::WorkerStatus> FakeBackend::inspect_worker(const std::string& worker_id) {
    std::lock_guard lock(mu_);
    if (!alive_.count(worker_id))
        return plugin::Result<plugin::WorkerStatus>::success(plugin::WorkerStatus{plugin::WorkerState::missing, 0, "gone"});
    auto it = states_.find(worker_id);
    return plugin::Result<plugin::WorkerStatus>::success(
        it != states_.end() ? it->second : plugin::WorkerStatus{plugin::WorkerState::running, 0, "running"});
}

std::set<std::string> FakeBackend::alive() const {
    std::lock_guard lock(mu_);
    return alive_;
}

std::vector<std::string> FakeBackend::destroyed() const {
    std::lock_guard lock(mu_);
    return destroyed_;
}

int FakeBackend::created() const {
    std::lock_guard lock(mu_);
    return created_;
}

void FakeBackend::set_state(const std::string& worker_id, plugin::WorkerState state, std::string detail) {
    std::lock_guard lock(mu_);
    states_[worker_id] = plugin::WorkerStatus{state, 1, std::move(detail)};
}

void FakeBackend::fail_creations(std::optional<std::string> message, plugin::FailureKind kind) {
    std::lock_guard lock(mu_);
    failure_ = std::move(message);
    failure_kind_ = kind;
}

void FakeBackend::add_existing(const std::string& worker_id) {
    std::lock_guard lock(mu_);
    alive_.insert(worker_id);
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

}  // namespace ci::test
