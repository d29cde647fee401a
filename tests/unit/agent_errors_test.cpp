#include <gtest/gtest.h>

#include "agent_errors.hpp"

namespace ci {
namespace {

ApiError refused(const std::string& kind) {
    return file_error({{"ok", false}, {"error", "it failed"}, {"error_kind", kind}});
}

TEST(AgentErrors, FileRefusalsMapToStatuses) {
    EXPECT_EQ(http_status(refused("invalid_path").reason), 400);
    EXPECT_EQ(http_status(refused("not_found").reason), 404);
    for (const char* kind : {"exists", "is_a_directory", "not_a_directory", "not_empty"})
        EXPECT_EQ(http_status(refused(kind).reason), 409) << kind;
    EXPECT_EQ(http_status(refused("too_large").reason), 413);
    EXPECT_EQ(http_status(refused("no_space").reason), 507);
    EXPECT_EQ(http_status(refused("io").reason), 500);
    EXPECT_EQ(refused("invalid_path").message, "it failed");
    EXPECT_STREQ(reason_code(refused("exists").reason), "file_exists");
}

TEST(AgentErrors, ARefusedGatewayFileRequestIsAnInternalError) {
    ApiError error = refused("invalid_request");
    EXPECT_EQ(error.reason, ErrorReason::internal);
    EXPECT_EQ(error.message, "the worker refused the gateway's file request (invalid_request): it failed");
    EXPECT_EQ(file_error({{"ok", false}}).reason, ErrorReason::internal);
}

TEST(AgentErrors, AReplyWithoutAnAnswerSaysWhatBecameOfTheRequest) {
    using std::chrono::milliseconds;
    const ApiError timeout = unanswered_error({AgentReply::Status::timeout, {}, ""}, "the file operation", milliseconds(30000));
    EXPECT_EQ(timeout.reason, ErrorReason::timeout);
    EXPECT_EQ(timeout.message, "the file operation got no answer from the worker within 30000 ms");
    EXPECT_EQ(unanswered_error({AgentReply::Status::timeout, {}, ""}, "the interrupt", milliseconds(5),
                               ErrorReason::worker_lost)
                  .reason,
              ErrorReason::worker_lost);
    EXPECT_EQ(unanswered_error({AgentReply::Status::disconnected, {}, "released"}, "x", milliseconds(1)).reason,
              ErrorReason::session_released);
    const ApiError lost = unanswered_error({AgentReply::Status::lost, {}, "the connection went"}, "x", milliseconds(1));
    EXPECT_EQ(lost.reason, ErrorReason::worker_lost);
    EXPECT_EQ(lost.message, "x was not answered: the connection went");
    EXPECT_EQ(unanswered_error({AgentReply::Status::agent_error, {}, "bad op"}, "x", milliseconds(1)).reason,
              ErrorReason::internal);
}

TEST(AgentErrors, ARecycledExecutionIsWhatTheAgentOrElseTheBackendSaw) {
    using plugin::Result;
    using plugin::WorkerState;
    using plugin::WorkerStatus;
    const auto status = [](WorkerState state) { return Result<WorkerStatus>::success(WorkerStatus{state, 1, "exited with code 1"}); };
    const AgentReply timeout{AgentReply::Status::timeout, {}, ""};
    const AgentReply died{AgentReply::Status::agent_error, {}, "kernel died (exit status 3)"};
    const AgentReply lost{AgentReply::Status::lost, {}, "the connection to the worker's agent was lost"};
    const auto ms = std::chrono::milliseconds(1000);
    EXPECT_EQ(recycled_error(status(WorkerState::oom_killed), timeout, ms).reason, ErrorReason::oom_killed);
    // The agent reports a dead kernel and exits: the worker may be stopped by the time it is seen.
    EXPECT_EQ(recycled_error(status(WorkerState::exited), died, ms).reason, ErrorReason::kernel_died);
    EXPECT_EQ(recycled_error(status(WorkerState::exited), lost, ms).reason, ErrorReason::worker_lost);
    EXPECT_EQ(recycled_error(Result<WorkerStatus>::failure("no such container"), timeout, ms).reason,
              ErrorReason::worker_lost);
    EXPECT_EQ(recycled_error(status(WorkerState::running), lost, ms).reason, ErrorReason::worker_lost);
    const ApiError timed_out = recycled_error(status(WorkerState::running), timeout, ms);
    EXPECT_EQ(timed_out.reason, ErrorReason::timeout);
    EXPECT_EQ(timed_out.session_kept, false);
    EXPECT_NE(timed_out.message.find("1000 ms"), std::string::npos);
    const ApiError kernel = recycled_error(status(WorkerState::running), died, ms);
    EXPECT_EQ(kernel.reason, ErrorReason::kernel_died);
    EXPECT_NE(kernel.message.find("exit status 3"), std::string::npos);
}

}  // namespace
}  // namespace ci
