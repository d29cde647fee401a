#pragma once
// Cross-origin requests from browser pages (CORS): which origins may call the API, set by
// server.cors_allowed_origins. None by default, as a gateway on loopback needs; ["*"] allows every
// origin, the original project's default. Tokens travel in headers, never cookies, so answers
// never allow credentials.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ci {

// The Access-Control-Allow-Origin value for a request from origin: "*" when every origin is
// allowed, the origin itself when it is listed (exact, case-insensitive match), else nullopt.
std::optional<std::string> cors_allow_origin(const std::vector<std::string>& allowed, std::string_view origin);

// What a preflight may ask to send: the request's Access-Control-Request-Headers when each is a
// valid header name, else the headers the API reads.
std::string cors_allow_headers(std::optional<std::string_view> requested);

}  // namespace ci
