#pragma once
// multipart/form-data bodies (RFC 7578), as browsers and `curl -F` send file uploads.
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api_error.hpp"

namespace ci {

struct FormPart {
    std::string name;                     // Content-Disposition's name
    std::optional<std::string> filename;  // set for a file part
    std::string_view data;                // points into the parsed body
};

// The parts of body, split at boundary (the Content-Type's boundary parameter, without quotes);
// bad_request when the body is not well-formed multipart.
std::variant<std::vector<FormPart>, ApiError> parse_multipart(std::string_view body, std::string_view boundary);

}  // namespace ci
