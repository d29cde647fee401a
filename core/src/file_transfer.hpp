#pragma once
// What the /api/v1/files routes need beside Pistache: the worker agent's file errors as API
// errors, and the download's Content-Disposition.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api_error.hpp"

namespace ci {

// The agent's {"ok": false, "error", "error_kind"} as the API's error: invalid_path 400,
// not_found 404, exists / is_a_directory / not_a_directory / not_empty 409, too_large 413,
// no_space 507 (the workspace is full: retrying a smaller request does not help while it is, so
// it is the server's storage, not this request's size), io 500; invalid_request (the gateway sent
// a bad field) and anything unknown are internal errors.
ApiError file_error(const nlohmann::json& agent_reply);

// `attachment` naming the path's last component: an ASCII filename (other bytes as '_') and the
// exact name as RFC 5987 filename*.
std::string attachment_disposition(std::string_view path);

}  // namespace ci
