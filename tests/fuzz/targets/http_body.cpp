// The request checks of POST /execute and /release (request_fields.cpp, the code the HTTP layer
// runs), and the error bodies that echo request text back. Input: the body, optionally preceded
// by a query value for user_uuid and a newline.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "api_error.hpp"
#include "fuzz_util.hpp"
#include "request_fields.hpp"

using nlohmann::json;

namespace {

// error_body must always give a JSON object that parses back.
void check_error_body(const ci::ApiError& error) {
    json parsed = json::parse(ci::error_body(error), nullptr, /*allow_exceptions=*/false);
    ci::fuzz::check(parsed.is_object() && parsed["detail"].is_string() && parsed["reason"].is_string(),
                    "error_body is a JSON object with string detail and reason");
    int status = ci::http_status(error.reason);
    ci::fuzz::check(status >= 400 && status < 600, "http_status is a 4xx or 5xx");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input(reinterpret_cast<const char*>(data), size);
    std::optional<std::string> query;
    if (auto newline = input.find('\n'); !input.empty() && input[0] == '?' && newline != std::string::npos) {
        query = input.substr(1, newline - 1);
        input = input.substr(newline + 1);
    }

    // An unknown route echoes the raw resource: arbitrary bytes, often not UTF-8.
    check_error_body({ci::ErrorReason::not_found, "no route " + input});

    auto body = ci::parse_body(input, 4096);
    if (auto* error = std::get_if<ci::ApiError>(&body)) {
        check_error_body(*error);
        return 0;
    }
    const json& object = std::get<json>(body);
    ci::fuzz::check(object.is_object(), "parse_body gives an object");
    auto user = ci::session_owner(ci::Caller{}, object, query);
    if (auto* error = std::get_if<ci::ApiError>(&user)) {
        check_error_body(*error);
    } else {
        const std::string& id = std::get<std::string>(user);
        ci::fuzz::check(ci::is_uuid(id) && id.find_first_of("ABCDEF") == std::string::npos, "a lower-case UUID");
        check_error_body({ci::ErrorReason::not_found, "no session for user_uuid " + id});
        // A named tenant's key is its own: it never equals a default-tenant key.
        auto tenant_key = ci::session_owner(ci::Caller{"fuzz", "tenant:fuzz"}, object, query);
        ci::fuzz::check(std::get<std::string>(tenant_key) == "fuzz/" + id, "a tenant's key is tenant/uuid");
    }
    auto code = ci::code_field(object);
    if (auto* error = std::get_if<ci::ApiError>(&code)) check_error_body(*error);
    return 0;
}
