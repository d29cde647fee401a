#pragma once
// Every failure an API caller can see: a machine-readable reason, a sentence, and (chosen here,
// in one place) the HTTP status.
#include <optional>
#include <string>

namespace ci {

enum class ErrorReason {
    bad_request,          // 400 malformed JSON, missing or invalid fields
    unauthorized,         // 401 missing or wrong token
    forbidden,            // 403 valid token without the role the route needs
    not_found,            // 404 unknown route or unknown session
    method_not_allowed,   // 405
    session_released,     // 409 the session was released while this request waited or ran
    payload_too_large,    // 413
    queue_full,           // 429 too many requests waiting for one session
    internal,             // 500
    pool_exhausted,       // 503 no worker can be had: max_total_workers reached
    backend_unavailable,  // 503 workers cannot be created (backend error)
    timeout,              // 503 execution exceeded execution.timeout; worker recycled
    kernel_died,          // 503 the kernel exited during the execution; worker recycled
    oom_killed,           // 503 the worker hit its memory limit; worker recycled
    worker_lost,          // 504 the worker cannot be reached; worker recycled
    shutting_down,        // 503 the gateway is stopping
};

struct ApiError {
    ErrorReason reason = ErrorReason::internal;
    std::string message;
    // For a failed execution: whether the session (its kernel and variables) survived.
    std::optional<bool> session_kept;
};

int http_status(ErrorReason reason);
const char* reason_code(ErrorReason reason);
// The JSON error body: {"detail": message, "reason": code} (and "session_kept" when known).
std::string error_body(const ApiError& error);

}  // namespace ci
