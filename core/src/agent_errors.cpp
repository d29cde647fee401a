#include "agent_errors.hpp"

#include <string>

namespace ci {

ApiError unanswered_error(const AgentReply& reply, std::string_view what, std::chrono::milliseconds waited,
                          ErrorReason timeout_reason) {
    const std::string subject(what);
    switch (reply.status) {
        case AgentReply::Status::timeout:
            return {timeout_reason, subject + " got no answer from the worker within " + std::to_string(waited.count()) +
                                        " ms"};
        case AgentReply::Status::disconnected:
            return {ErrorReason::session_released, "the session ended before " + subject + " was answered"};
        case AgentReply::Status::lost:
            return {ErrorReason::worker_lost, subject + " was not answered: " + reply.message};
        case AgentReply::Status::violation:
            return {ErrorReason::protocol_violation, subject + " was not answered: " + reply.message +
                                                         "; the worker is being destroyed"};
        case AgentReply::Status::agent_error:
        case AgentReply::Status::ok:
            break;
    }
    return {ErrorReason::internal, "the worker refused " + subject + ": " + reply.message};
}

ApiError file_error(const nlohmann::json& agent_reply) {
    std::string kind = agent_reply.value("error_kind", "");
    std::string message = agent_reply.value("error", "the worker refused the file operation");
    if (kind == "invalid_path") return {ErrorReason::invalid_path, message};
    if (kind == "not_found") return {ErrorReason::not_found, message};
    if (kind == "exists") return {ErrorReason::file_exists, message};
    if (kind == "is_a_directory") return {ErrorReason::is_a_directory, message};
    if (kind == "not_a_directory") return {ErrorReason::not_a_directory, message};
    if (kind == "not_empty") return {ErrorReason::not_empty, message};
    if (kind == "too_large") return {ErrorReason::payload_too_large, message};
    if (kind == "no_space") return {ErrorReason::insufficient_storage, message};
    if (kind == "io") return {ErrorReason::file_io, message};
    return {ErrorReason::internal, "the worker refused the gateway's file request (" +
                                       (kind.empty() ? std::string("no error_kind") : kind) + "): " + message};
}

ApiError recycled_error(const plugin::Result<plugin::WorkerStatus>& inspection, const AgentReply& reply,
                        std::chrono::milliseconds timeout) {
    const std::string recycled = "; the worker was destroyed and the next call starts a fresh session";
    ApiError error;
    if (reply.status == AgentReply::Status::violation) {
        // Whatever the worker's state, what its agent sent cannot be trusted.
        error = {ErrorReason::protocol_violation, reply.message + recycled};
    } else if (inspection.ok() && inspection.value().state == plugin::WorkerState::oom_killed) {
        error = {ErrorReason::oom_killed, "the worker ran out of memory (killed at its memory limit)" + recycled};
    } else if (reply.status == AgentReply::Status::agent_error) {
        // The agent said the kernel failed; it exits right after, so the worker may already be
        // stopped when inspected: the agent's word is the cause.
        error = {ErrorReason::kernel_died, "the kernel failed: " + reply.message + recycled};
    } else if (inspection.ok() && inspection.value().state != plugin::WorkerState::running) {
        error = {ErrorReason::worker_lost, "the worker stopped unexpectedly (" + inspection.value().detail + ")" + recycled};
    } else if (!inspection.ok()) {
        error = {ErrorReason::worker_lost, "the worker cannot be reached: " + inspection.error() + recycled};
    } else if (reply.status == AgentReply::Status::lost) {
        error = {ErrorReason::worker_lost, reply.message + recycled};
    } else if (reply.status == AgentReply::Status::timeout) {
        error = {ErrorReason::timeout,
                 "execution exceeded the time limit of " + std::to_string(timeout.count()) + " ms" + recycled};
    } else {
        error = {ErrorReason::kernel_died, "the kernel failed: " + reply.message + recycled};
    }
    error.session_kept = false;
    return error;
}

ApiError creation_error(const std::string& why) {
    return {ErrorReason::backend_unavailable, "cannot create a worker: " + why};
}

}  // namespace ci
