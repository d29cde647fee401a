// SessionManager's own logic, with the pool on a fake backend and a fake agent channel
// (tests/support/fake_workers.hpp): queues, admission, limits, timeouts, lost workers and
// releases. The real stack covers the same paths in tests/integration.
#include <future>
#include <memory>

#include <gtest/gtest.h>

#include "fake_workers.hpp"
#include "metrics.hpp"
#include "session_manager.hpp"

namespace ci {
namespace {

using namespace std::chrono_literals;
using test::FakeAgentChannel;
using test::FakeBackend;

class SessionLogic : public ::testing::Test {
protected:
    void start(ExecutionConfig execution = {}) {
        pool_config_.min_idle_workers = 1;
        pool_config_.max_total_workers = 4;
        pool_config_.state_file = "";
        pool_config_.acquire_timeout = 5s;
        pool_ = std::make_unique<WorkerPool>(pool_config_, WorkerConfig{}, backend_, nullptr, channel_, tasks_, metrics_);
        sessions_ = std::make_unique<SessionManager>(execution, pool_config_, *pool_, channel_, tasks_, metrics_);
        sessions_->start(pool_->start());
    }
    void TearDown() override {
        if (sessions_) sessions_->shutdown();
        if (pool_) pool_->shutdown(2s);
        // Before the pool and the sessions go: no callback of these threads may run on them after.
        channel_.stop();
        tasks_.stop();
    }

    std::future<ExecutionOutcome> execute(const std::string& user, const std::string& code) {
        auto promise = std::make_shared<std::promise<ExecutionOutcome>>();
        auto future = promise->get_future();
        sessions_->execute(user, code, {}, [promise](ExecutionOutcome outcome) { promise->set_value(std::move(outcome)); });
        return future;
    }
    // The execute request of code, answered with stdout text.
    void finish(const std::string& code, const std::string& text) {
        auto sent = channel_.wait_for_execute(code);
        ASSERT_TRUE(sent) << code << " was not sent";
        channel_.answer(sent->number, FakeAgentChannel::result(text));
    }
    static bool sent_already(FakeAgentChannel& channel, const std::string& code) {
        return channel.wait_for(
                   [&](const auto& s) {
                       const auto* e = std::get_if<protocol::ExecuteRequest>(&s.request);
                       return e && e->code == code;
                   },
                   50ms)
            .has_value();
    }
    static std::string stdout_of(std::future<ExecutionOutcome>& future) {
        if (future.wait_for(5s) != std::future_status::ready) return "(no answer)";
        auto outcome = future.get();
        if (auto* error = std::get_if<ApiError>(&outcome)) return std::string("error ") + reason_code(error->reason);
        const auto& outputs = std::get<ExecutionAnswer>(outcome).result.outputs;
        return outputs.empty() ? "" : outputs.front().text;
    }
    static ApiError error_of(std::future<ExecutionOutcome>& future) {
        EXPECT_EQ(future.wait_for(5s), std::future_status::ready);
        auto outcome = future.get();
        EXPECT_TRUE(std::holds_alternative<ApiError>(outcome));
        return std::holds_alternative<ApiError>(outcome) ? std::get<ApiError>(outcome) : ApiError{};
    }

    FakeBackend backend_;
    FakeAgentChannel channel_;
    TaskRunner tasks_{4};
    Metrics metrics_;
    PoolConfig pool_config_;
    std::unique_ptr<WorkerPool> pool_;
    std::unique_ptr<SessionManager> sessions_;
};

TEST_F(SessionLogic, ASessionRunsItsExecutionsOneAtATimeInArrivalOrder) {
    start();
    auto a = execute("u", "a");
    auto b = execute("u", "b");
    auto c = execute("u", "c");
    ASSERT_TRUE(channel_.wait_for_execute("a"));
    EXPECT_FALSE(sent_already(channel_, "b"));
    finish("a", "1");
    EXPECT_EQ(stdout_of(a), "1");
    EXPECT_FALSE(sent_already(channel_, "c"));
    finish("b", "2");
    finish("c", "3");
    EXPECT_EQ(stdout_of(b), "2");
    EXPECT_EQ(stdout_of(c), "3");
}

TEST_F(SessionLogic, TheFirstExecutionStartsASessionAndLaterOnesKeepIt) {
    start();
    auto first = execute("u", "x = 1");
    finish("x = 1", "");
    ASSERT_EQ(first.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(std::get<ExecutionAnswer>(first.get()).new_session);
    auto second = execute("u", "x");
    finish("x", "1");
    ASSERT_EQ(second.wait_for(5s), std::future_status::ready);
    EXPECT_FALSE(std::get<ExecutionAnswer>(second.get()).new_session);
    // The session's worker and, 100 ms after its lease, its replacement in the pool.
    EXPECT_TRUE(test::eventually([&] { return backend_.created() == 2; }));
}

TEST_F(SessionLogic, TooManyWaitingRequestsAreRefusedAtOnce) {
    start(ExecutionConfig{.max_queued_per_session = 2});
    auto running = execute("u", "a");
    ASSERT_TRUE(channel_.wait_for_execute("a"));
    auto q1 = execute("u", "b");
    auto q2 = execute("u", "c");
    auto refused = execute("u", "d");
    EXPECT_EQ(error_of(refused).reason, ErrorReason::queue_full);
    finish("a", "");
    finish("b", "");
    finish("c", "");
    EXPECT_EQ(stdout_of(q2), "");
}

TEST_F(SessionLogic, AdmissionLetsSessionsRunInArrivalOrder) {
    start(ExecutionConfig{.max_running = 1, .running_slot_time = 60s});
    // Each user first gets a session, so that the three run requests meet only admission.
    for (const char* user : {"u1", "u2", "u3"}) {
        auto setup = execute(user, std::string("setup ") + user);
        finish(std::string("setup ") + user, "");
        ASSERT_EQ(setup.wait_for(5s), std::future_status::ready);
    }
    auto r1 = execute("u1", "run 1");
    ASSERT_TRUE(channel_.wait_for_execute("run 1"));
    auto r2 = execute("u2", "run 2");
    auto r3 = execute("u3", "run 3");
    EXPECT_FALSE(sent_already(channel_, "run 2"));
    EXPECT_FALSE(sent_already(channel_, "run 3"));
    EXPECT_EQ(sessions_->stats().admission_waiting, 2);
    finish("run 1", "");
    ASSERT_TRUE(channel_.wait_for_execute("run 2"));
    EXPECT_FALSE(sent_already(channel_, "run 3"));
    finish("run 2", "");
    finish("run 3", "");
    EXPECT_EQ(stdout_of(r3), "");
}

TEST_F(SessionLogic, ATimeoutRecyclesTheWorkerAndTheNextCallStartsAfresh) {
    start(ExecutionConfig{.timeout = 200ms});
    auto setup = execute("u", "x = 1");
    finish("x = 1", "");
    ASSERT_EQ(setup.wait_for(5s), std::future_status::ready);
    auto slow = execute("u", "while True: pass");
    ApiError error = error_of(slow);
    EXPECT_EQ(error.reason, ErrorReason::timeout);
    EXPECT_EQ(error.session_kept, false);
    EXPECT_TRUE(test::eventually([&] { return !backend_.destroyed().empty(); }));
    auto next = execute("u", "x");
    finish("x", "");
    ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(std::get<ExecutionAnswer>(next.get()).new_session);
}

TEST_F(SessionLogic, ATimeoutWithInterruptKeepsTheSessionWhenTheKernelComesBack) {
    start(ExecutionConfig{.timeout = 200ms, .on_timeout = TimeoutPolicy::interrupt, .interrupt_grace = 5s});
    auto setup = execute("u", "x = 1");
    finish("x = 1", "");
    ASSERT_EQ(setup.wait_for(5s), std::future_status::ready);
    auto slow = execute("u", "time.sleep(100)");
    auto queued = execute("u", "after");
    // The interrupt, then an empty execution that is answered once the kernel is back.
    auto interrupt = channel_.wait_for([](const auto& s) { return std::holds_alternative<protocol::InterruptRequest>(s.request); });
    ASSERT_TRUE(interrupt);
    channel_.answer(interrupt->number, {AgentReply::Status::ok, {{"interrupted", true}}, ""});
    auto probe = channel_.wait_for_execute("");
    ASSERT_TRUE(probe);
    channel_.answer(probe->number, FakeAgentChannel::result(""));
    ApiError error = error_of(slow);
    EXPECT_EQ(error.reason, ErrorReason::timeout);
    EXPECT_EQ(error.session_kept, true);
    // The request queued behind it runs in the same session.
    finish("after", "kept");
    ASSERT_EQ(queued.wait_for(5s), std::future_status::ready);
    auto answer = std::get<ExecutionAnswer>(queued.get());
    EXPECT_FALSE(answer.new_session);
    EXPECT_TRUE(backend_.destroyed().empty());
}

TEST_F(SessionLogic, AWorkerLostMidExecutionIsAnsweredWithWhatBecameOfIt) {
    start();
    auto running = execute("u", "work");
    auto sent = channel_.wait_for_execute("work");
    ASSERT_TRUE(sent);
    backend_.set_state(sent->worker_id, plugin::WorkerState::exited, "exited with code 137");
    channel_.lose(sent->worker_id);
    ApiError error = error_of(running);
    EXPECT_EQ(error.reason, ErrorReason::worker_lost);
    EXPECT_NE(error.message.find("exited with code 137"), std::string::npos) << error.message;
    EXPECT_TRUE(test::eventually([&] { return !backend_.alive().count(sent->worker_id); }));
}

TEST_F(SessionLogic, AWorkerWhoseAgentBreaksTheProtocolIsDestroyedWithThatReason) {
    start();
    auto running = execute("u", "work");
    auto sent = channel_.wait_for_execute("work");
    ASSERT_TRUE(sent);
    channel_.lose(sent->worker_id, AgentChannel::Loss::violation);
    ApiError error = error_of(running);
    EXPECT_EQ(error.reason, ErrorReason::protocol_violation);
    EXPECT_EQ(error.session_kept, false);
    EXPECT_TRUE(test::eventually([&] { return !backend_.alive().count(sent->worker_id); }));

    // Between executions: the next call starts over and says why.
    auto setup = execute("v", "x = 1");
    auto first = channel_.wait_for_execute("x = 1");
    ASSERT_TRUE(first);
    channel_.answer(first->number, FakeAgentChannel::result(""));
    ASSERT_EQ(setup.wait_for(5s), std::future_status::ready);
    channel_.lose(first->worker_id, AgentChannel::Loss::violation);
    EXPECT_TRUE(test::eventually([&] { return !backend_.alive().count(first->worker_id); }));
    auto next = execute("v", "x");
    finish("x", "");
    ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
    auto answer = std::get<ExecutionAnswer>(next.get());
    EXPECT_TRUE(answer.new_session);
    EXPECT_EQ(answer.previous_session, "protocol_violation");
}

TEST_F(SessionLogic, AReleaseEndsTheRunningAndQueuedExecutions) {
    start();
    auto running = execute("u", "work");
    auto queued = execute("u", "later");
    ASSERT_TRUE(channel_.wait_for_execute("work"));
    EXPECT_TRUE(sessions_->release("u"));
    EXPECT_EQ(error_of(running).reason, ErrorReason::session_released);
    EXPECT_EQ(error_of(queued).reason, ErrorReason::session_released);
    EXPECT_FALSE(sessions_->release("u"));
    EXPECT_TRUE(test::eventually([&] { return backend_.destroyed().size() == 1; }));
}

TEST_F(SessionLogic, EveryOutcomeIsCounted) {
    start(ExecutionConfig{.max_queued_per_session = 1});
    auto ok = execute("u", "a");
    auto waits = execute("u", "b");
    auto refused = execute("u", "c");
    EXPECT_EQ(error_of(refused).reason, ErrorReason::queue_full);
    finish("a", "");
    auto raised = channel_.wait_for_execute("b");
    ASSERT_TRUE(raised);
    channel_.answer(raised->number, FakeAgentChannel::result("", "error"));
    ASSERT_EQ(waits.wait_for(5s), std::future_status::ready);
    const auto snapshot = metrics_.snapshot({}, {});
    std::map<std::string, std::uint64_t> counts(snapshot.executions.begin(), snapshot.executions.end());
    EXPECT_EQ(counts["ok"], 1u);
    EXPECT_EQ(counts["error"], 1u);
    EXPECT_EQ(counts["queue_full"], 1u);
}

}  // namespace
}  // namespace ci
