#pragma once
// The one place where what came back from a worker, or from the plugin that makes workers,
// becomes the API's error: a reply that is no answer, an agent's refusal of a file operation, the
// backend's word on a worker whose execution failed, and a worker that cannot be created.
#include <chrono>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agent_channel.hpp"
#include "api_error.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"

namespace ci {

// A reply without an answer (timeout, disconnected, lost) to what ("the file operation", "the
// interrupt"): session_released when the session went first, worker_lost when the agent went,
// and timeout_reason (timeout, or worker_lost for a request the agent answers at once) when
// nothing came within waited, protocol_violation when the agent broke the protocol. An
// agent_error is internal: the agent refused what the gateway sent.
ApiError unanswered_error(const AgentReply& reply, std::string_view what, std::chrono::milliseconds waited,
                          ErrorReason timeout_reason = ErrorReason::timeout);

// The agent's refusal of a file operation {"ok": false, "error", "error_kind"}: invalid_path 400,
// not_found 404, exists / is_a_directory / not_a_directory / not_empty 409, too_large 413,
// no_space 507 (the workspace is full: retrying a smaller request does not help while it is, so
// it is the server's storage, not this request's size), io 500; invalid_request (the gateway sent
// a bad field) and anything unknown are internal errors.
ApiError file_error(const nlohmann::json& agent_reply);

// An execution that failed (reply: timeout, lost, violation, or the agent's error) and whose worker
// is being destroyed: protocol_violation when its agent broke the protocol, otherwise from what
// the backend says became of the worker: oom_killed, worker_lost (it stopped or cannot be
// inspected), timeout, or kernel_died; session_kept is false.
ApiError recycled_error(const plugin::Result<plugin::WorkerStatus>& inspection, const AgentReply& reply,
                        std::chrono::milliseconds timeout);

// A session that cannot get a worker because the backend fails to create one (its message why).
ApiError creation_error(const std::string& why);

}  // namespace ci
