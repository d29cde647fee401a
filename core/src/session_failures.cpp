// The ways an execution can fail, apart from the session's bookkeeping (session_manager.cpp): a
// timeout met with an interrupt or a recycle, and a worker that cannot be trusted any more, whose
// fate (timeout, out of memory, a dead kernel, a lost worker) the backend tells.
#include "agent_errors.hpp"
#include "log.hpp"
#include "session_manager.hpp"

namespace ci {

// An execution that got no result: the session went (released, or the gateway stops), or its
// worker cannot be trusted; a timeout may first be met with an interrupt.
void SessionManager::execution_failed(const std::string& user, std::uint64_t session_id, WorkerPtr worker, Done done,
                                      AgentReply reply) {
    if (reply.status == AgentReply::Status::disconnected) {
        // The session was released or the gateway is stopping; the worker is already going.
        bool stopping;
        {
            std::lock_guard lock(mu_);
            stopping = shutting_down_;
        }
        if (stopping)
            done(ApiError{ErrorReason::shutting_down, "the gateway stopped while this execution ran"});
        else
            done(ApiError{ErrorReason::session_released, "the session ended while this execution ran: " + reply.message});
        return;
    }

    if (reply.status == AgentReply::Status::timeout && config_.on_timeout == TimeoutPolicy::interrupt) {
        interrupt(user, session_id, std::move(worker), std::move(done));
        return;
    }
    recycle(user, session_id, std::move(worker), std::move(done), std::move(reply));
}

// The session stays `running` while its kernel is interrupted, so its queued requests keep waiting.
void SessionManager::interrupt(const std::string& user, std::uint64_t session_id, WorkerPtr worker, Done done) {
    auto deadline = AgentChannel::Clock::now() + config_.interrupt_grace;
    // The interrupt's own answer says nothing the probe below does not.
    hub_.request(worker->id, protocol::InterruptRequest{}, deadline, [](AgentReply) {});
    // An empty execution queued behind the interrupted one is answered once the kernel is back.
    // It keeps no output (max_output_bytes 0): nothing of the interrupted cell is its.
    hub_.request(worker->id, protocol::ExecuteRequest{}, deadline,
                 [this, user, session_id, worker, done = std::move(done)](AgentReply reply) mutable {
                     std::string limit = "execution exceeded the time limit of " +
                                         std::to_string(config_.timeout.count()) + " ms";
                     if (reply.status == AgentReply::Status::ok) {
                         execution_finished(user, session_id);
                         done(ApiError{ErrorReason::timeout, limit + "; it was interrupted and the session's state was kept",
                                       true});
                         return;
                     }
                     if (reply.status == AgentReply::Status::disconnected) {
                         done(ApiError{ErrorReason::session_released, "the session ended while this execution ran: " + reply.message});
                         return;
                     }
                     if (reply.status == AgentReply::Status::violation) {
                         recycle(user, session_id, std::move(worker), std::move(done), std::move(reply));
                         return;
                     }
                     log_info("worker " + worker->id + ": the kernel did not come back from an interrupt");
                     recycle(user, session_id, std::move(worker), std::move(done),
                             AgentReply{AgentReply::Status::timeout, {}, "the kernel did not come back from an interrupt"});
                 });
}

// Timeout, agent error or lost agent: the worker cannot be trusted any more ("cattle, not pets").
void SessionManager::recycle(const std::string& user, std::uint64_t session_id, WorkerPtr worker, Done done,
                             AgentReply reply) {
    std::deque<Pending> queued;
    {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(user);
        if (it != sessions_.end() && it->second.id == session_id)
            queued = end_session_locked(user, reply.status == AgentReply::Status::timeout ? "execution timed out" : reply.message);
    }
    for (auto& p : queued)
        p.done(ApiError{ErrorReason::session_released,
                        "the session's worker was recycled before this request ran (an earlier execution failed)"});
    answer_failure(worker, std::move(done), reply);
}

// Asks the backend what became of the worker, so the caller learns timeout, OOM or a lost worker.
void SessionManager::answer_failure(const WorkerPtr& worker, Done done, const AgentReply& reply) {
    tasks_.post([this, worker, done = std::move(done), reply, timeout = config_.timeout] {
        auto inspection = pool_.inspect(worker);
        pool_.retire(worker, reply.status == AgentReply::Status::timeout ? "execution timed out" : reply.message);
        done(recycled_error(inspection, reply, timeout));
    });
}

}  // namespace ci
