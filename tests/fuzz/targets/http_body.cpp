// The JSON body of POST /execute and /release, and the error bodies that echo request text back.
//
// http_api.cpp keeps its body parsing and user_uuid/is_uuid checks next to the Pistache handler
// (they take Pistache's Request and ResponseWriter), so they cannot be linked without Pistache and
// the session layer. Until they move to a Pistache-free file, this target makes the same nlohmann
// calls as parse_body and user_uuid, and runs the real error_body (api_error.cpp) on what a
// client controls: a body that must never make the gateway throw while answering 4xx.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api_error.hpp"
#include "fuzz_util.hpp"

using nlohmann::json;

namespace {

// error_body must always give a JSON object that parses back.
void check_error_body(ci::ErrorReason reason, const std::string& message) {
    std::string body = ci::error_body({reason, message});
    json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    ci::fuzz::check(parsed.is_object() && parsed["detail"].is_string() && parsed["reason"].is_string(),
                    "error_body is a JSON object with string detail and reason");
    int status = ci::http_status(reason);
    ci::fuzz::check(status >= 400 && status < 600, "http_status is a 4xx or 5xx");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);

    // An unknown route echoes the raw resource: arbitrary bytes, often not UTF-8.
    check_error_body(ci::ErrorReason::not_found, "no route " + body);

    json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) return 0;  // 400, fixed messages

    auto user = parsed.find("user_uuid");
    if (user != parsed.end() && user->is_string())
        check_error_body(ci::ErrorReason::not_found, "no session for user_uuid " + user->get<std::string>());
    auto code = parsed.find("code");
    if (code != parsed.end() && code->is_string()) (void)code->get<std::string>().size();
    return 0;
}
