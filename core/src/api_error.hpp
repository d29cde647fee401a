#pragma once
// Every failure an API caller can see: a machine-readable reason, a sentence, and (chosen here,
// in one place) the HTTP status.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ci {

enum class ErrorReason {
    bad_request,          // 400 malformed JSON, missing or invalid fields
    invalid_path,         // 400 a file path that is malformed or leaves the workspace
    unauthorized,         // 401 missing or wrong token
    forbidden,            // 403 valid token without the role the route needs
    not_found,            // 404 unknown route or unknown session
    method_not_allowed,   // 405
    session_released,     // 409 the session was released while this request waited or ran
    interrupted,          // 409 POST /api/v1/interrupt stopped this execution; the session is kept
    file_exists,          // 409 the path exists and overwriting was not allowed
    is_a_directory,       // 409 a file operation met a directory
    not_a_directory,      // 409 a directory operation (or a parent in the path) met a file
    not_empty,            // 409 deleting a non-empty directory without "recursive"
    payload_too_large,    // 413
    headers_too_large,    // 431 a request line and headers over 64 KiB
    validation_failed,    // 422 a request of the original project's form failed validation (its routes answer
                          //     422 where ours answer bad_request / invalid_path)
    url_refused,          // 422 a transfer URL leads to a non-public address (url_policy.hpp)
    queue_full,           // 429 too many requests waiting for one session
    client_too_slow,      // 408 (only in a stream's last event) the client left too many events unread
    internal,             // 500
    file_io,              // 500 the worker's file system failed an operation
    transfer_failed,      // 502 a remote server of a URL transfer failed or refused it
    protocol_violation,   // 502 the worker's agent broke the gateway's protocol; worker destroyed
    pool_exhausted,       // 503 no worker can be had: max_total_workers reached
    backend_unavailable,  // 503 workers cannot be created (backend error)
    timeout,              // 503 execution exceeded execution.timeout; worker recycled
    kernel_died,          // 503 the kernel exited during the execution; worker recycled
    oom_killed,           // 503 the worker hit its memory limit; worker recycled
    worker_lost,          // 504 the worker cannot be reached; worker recycled
    transfer_timeout,     // 504 a remote server of a URL transfer did not answer in time
    insufficient_storage, // 507 the session's workspace is full
    shutting_down,        // 503 the gateway is stopping
};

struct ApiError {
    ErrorReason reason = ErrorReason::internal;
    std::string message;
    // For a failed execution: whether the session (its kernel and variables) survived.
    std::optional<bool> session_kept;
    // More fields of the error body (an interrupted execution's output, for instance).
    nlohmann::json details = nlohmann::json::object();
};

int http_status(ErrorReason reason);
const char* reason_code(ErrorReason reason);
// The JSON error body: {"detail": message, "reason": code} (and "session_kept" when known), plus
// the error's details.
nlohmann::json error_json(const ApiError& error);
std::string error_body(const ApiError& error);

}  // namespace ci
