#include "api_error.hpp"

#include <nlohmann/json.hpp>

namespace ci {

int http_status(ErrorReason reason) {
    switch (reason) {
        case ErrorReason::bad_request: return 400;
        case ErrorReason::unauthorized: return 401;
        case ErrorReason::forbidden: return 403;
        case ErrorReason::not_found: return 404;
        case ErrorReason::method_not_allowed: return 405;
        case ErrorReason::session_released: return 409;
        case ErrorReason::payload_too_large: return 413;
        case ErrorReason::queue_full: return 429;
        case ErrorReason::internal: return 500;
        case ErrorReason::pool_exhausted:
        case ErrorReason::backend_unavailable:
        case ErrorReason::timeout:
        case ErrorReason::kernel_died:
        case ErrorReason::oom_killed:
        case ErrorReason::shutting_down: return 503;
        case ErrorReason::worker_lost: return 504;
    }
    return 500;
}

const char* reason_code(ErrorReason reason) {
    switch (reason) {
        case ErrorReason::bad_request: return "bad_request";
        case ErrorReason::unauthorized: return "unauthorized";
        case ErrorReason::forbidden: return "forbidden";
        case ErrorReason::not_found: return "not_found";
        case ErrorReason::method_not_allowed: return "method_not_allowed";
        case ErrorReason::session_released: return "session_released";
        case ErrorReason::payload_too_large: return "payload_too_large";
        case ErrorReason::queue_full: return "queue_full";
        case ErrorReason::internal: return "internal";
        case ErrorReason::pool_exhausted: return "pool_exhausted";
        case ErrorReason::backend_unavailable: return "backend_unavailable";
        case ErrorReason::timeout: return "timeout";
        case ErrorReason::kernel_died: return "kernel_died";
        case ErrorReason::oom_killed: return "oom_killed";
        case ErrorReason::worker_lost: return "worker_lost";
        case ErrorReason::shutting_down: return "shutting_down";
    }
    return "internal";
}

std::string error_body(const ApiError& error) {
    nlohmann::json body{{"detail", error.message}, {"reason", reason_code(error.reason)}};
    if (error.session_kept) body["session_kept"] = *error.session_kept;
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ci
