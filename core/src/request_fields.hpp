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

// user_uuid from the body, else from the query (the /api/v1 form); lower-cased.
std::variant<std::string, ApiError> user_uuid(const nlohmann::json& body, const std::optional<std::string>& query);

// The code of an /execute body.
std::variant<std::string, ApiError> code_field(const nlohmann::json& body);

// An optional boolean field of a body; fallback when absent.
std::variant<bool, ApiError> bool_field(const nlohmann::json& body, const char* name, bool fallback);

}  // namespace ci
