#include "api_error.hpp"

#include <nlohmann/json.hpp>

namespace ci {

int http_status(ErrorReason reason) {
    switch (reason) {
        case ErrorReason::bad_request:
        case ErrorReason::invalid_path: return 400;
        case ErrorReason::unauthorized: return 401;
        case ErrorReason::forbidden: return 403;
        case ErrorReason::not_found: return 404;
        case ErrorReason::method_not_allowed: return 405;
        case ErrorReason::session_released:
        case ErrorReason::interrupted:
        case ErrorReason::file_exists:
        case ErrorReason::is_a_directory:
        case ErrorReason::not_a_directory:
        case ErrorReason::not_empty: return 409;
        case ErrorReason::payload_too_large: return 413;
        case ErrorReason::headers_too_large: return 431;
        case ErrorReason::validation_failed:
        case ErrorReason::url_refused: return 422;
        case ErrorReason::client_too_slow: return 408;
        case ErrorReason::queue_full: return 429;
        case ErrorReason::internal:
        case ErrorReason::file_io: return 500;
        case ErrorReason::transfer_failed:
        case ErrorReason::protocol_violation: return 502;
        case ErrorReason::pool_exhausted:
        case ErrorReason::backend_unavailable:
        case ErrorReason::timeout:
        case ErrorReason::kernel_died:
        case ErrorReason::oom_killed:
        case ErrorReason::shutting_down: return 503;
        case ErrorReason::worker_lost:
        case ErrorReason::transfer_timeout: return 504;
        case ErrorReason::insufficient_storage: return 507;
    }
    return 500;
}

const char* reason_code(ErrorReason reason) {
    switch (reason) {
        case ErrorReason::bad_request: return "bad_request";
        case ErrorReason::invalid_path: return "invalid_path";
        case ErrorReason::unauthorized: return "unauthorized";
        case ErrorReason::forbidden: return "forbidden";
        case ErrorReason::not_found: return "not_found";
        case ErrorReason::method_not_allowed: return "method_not_allowed";
        case ErrorReason::session_released: return "session_released";
        case ErrorReason::interrupted: return "interrupted";
        case ErrorReason::file_exists: return "file_exists";
        case ErrorReason::is_a_directory: return "is_a_directory";
        case ErrorReason::not_a_directory: return "not_a_directory";
        case ErrorReason::not_empty: return "not_empty";
        case ErrorReason::payload_too_large: return "payload_too_large";
        case ErrorReason::headers_too_large: return "headers_too_large";
        case ErrorReason::validation_failed: return "validation_failed";
        case ErrorReason::url_refused: return "url_refused";
        case ErrorReason::queue_full: return "queue_full";
        case ErrorReason::client_too_slow: return "client_too_slow";
        case ErrorReason::internal: return "internal";
        case ErrorReason::file_io: return "file_io";
        case ErrorReason::transfer_failed: return "transfer_failed";
        case ErrorReason::protocol_violation: return "protocol_violation";
        case ErrorReason::pool_exhausted: return "pool_exhausted";
        case ErrorReason::backend_unavailable: return "backend_unavailable";
        case ErrorReason::timeout: return "timeout";
        case ErrorReason::kernel_died: return "kernel_died";
        case ErrorReason::oom_killed: return "oom_killed";
        case ErrorReason::worker_lost: return "worker_lost";
        case ErrorReason::transfer_timeout: return "transfer_timeout";
        case ErrorReason::insufficient_storage: return "insufficient_storage";
        case ErrorReason::shutting_down: return "shutting_down";
    }
    return "internal";
}

nlohmann::json error_json(const ApiError& error) {
    nlohmann::json body = error.details.is_object() ? error.details : nlohmann::json::object();
    body["detail"] = error.message;
    body["reason"] = reason_code(error.reason);
    if (error.session_kept) body["session_kept"] = *error.session_kept;
    return body;
}

std::string error_body(const ApiError& error) {
    return error_json(error).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ci
