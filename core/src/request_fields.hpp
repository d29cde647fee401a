#pragma once
// The fields of an API request, checked without Pistache: the HTTP layer passes the raw body and
// query value in and sends whichever ApiError comes back.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "api_error.hpp"

namespace ci {

// True for the canonical 8-4-4-4-12 hex form (either case).
bool is_uuid(std::string_view text);

// The body as a JSON object (an empty body is an empty object: fields may come from the query).
std::variant<nlohmann::json, ApiError> parse_body(std::string_view body, std::size_t max_bytes);

// Who sent the request, as the auth plugin said (empty on open routes).
struct Caller {
    std::string tenant;     // whose sessions (AuthDecision::tenant); empty: the default tenant
    std::string principal;  // for logs and metrics
};

// The session a request is about: user_uuid from the body, else from the query (the /api/v1
// form), lower-cased, within the caller's tenant. The key is the user_uuid itself in the default
// tenant and "<tenant>/<user_uuid>" in a named one, so tenants never share a session.
std::variant<std::string, ApiError> session_owner(const Caller& caller, const nlohmann::json& body,
                                                  const std::optional<std::string>& query);
// The tenant of a session key ("default" for the default tenant), for logs.
std::string_view tenant_of(std::string_view session_key);

// The code of an /execute body.
std::variant<std::string, ApiError> code_field(const nlohmann::json& body);

// An optional boolean field of a body; fallback when absent.
std::variant<bool, ApiError> bool_field(const nlohmann::json& body, const char* name, bool fallback);

// A query value as sent (Pistache 0.0.5 leaves it percent-encoded), decoded: %XX escapes and '+'
// for a space; nullopt for a broken escape.
std::optional<std::string> percent_decode(std::string_view raw);

// A workspace path in either form, relative to the workspace as the agent takes it: the
// original's absolute "/sandbox" is "." and "/sandbox/x" is "x"; anything else is returned as it
// is (the agent refuses other absolute paths).
std::string workspace_relative(std::string_view path);

// A workspace path from the body's (or form's) "path", else from the raw query value; required,
// not empty; relative to the workspace (workspace_relative). Whether it stays inside the
// workspace is the worker agent's to check.
std::variant<std::string, ApiError> path_field(const nlohmann::json& body, const std::optional<std::string>& query);

// An optional flag from the body (true/false, or the text "true"/"false" of a form field), else
// from the query ("true"/"false"/"1"/"0"); fallback when in neither.
std::variant<bool, ApiError> flag_field(const nlohmann::json& body, const std::optional<std::string>& query,
                                        const char* name, bool fallback);

}  // namespace ci
