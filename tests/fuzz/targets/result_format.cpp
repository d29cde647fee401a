// core/src/result_format.cpp: strip_ansi on arbitrary bytes, and seed_response (the HTTP answer
// {result_text, result_base64}) on an ExecutionResult read from fuzzed JSON.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "code_interpreter/protocol/agent_protocol.hpp"
#include "fuzz_util.hpp"
#include "result_format.hpp"

using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);

    std::string stripped = ci::strip_ansi(text);
    ci::fuzz::check(stripped.size() <= text.size(), "strip_ansi never grows the text");
    ci::fuzz::check(stripped.find('\x1b') == std::string::npos, "strip_ansi leaves no escape byte");

    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) return 0;
    ci::protocol::ExecutionResult result;
    try {
        result = parsed.get<ci::protocol::ExecutionResult>();  // as SessionManager::on_reply does
    } catch (const std::exception&) {
        return 0;
    }
    json response = ci::seed_response(result);
    ci::fuzz::check(response.is_object() && response.size() == 2, "two fields");
    const json& png = response["result_base64"];
    ci::fuzz::check(png.is_null() || (png.is_string() && png.get<std::string>().find('\n') == std::string::npos),
                    "result_base64 is null or one line");
    const json& out = response["result_text"];
    ci::fuzz::check(out.is_null() || (out.is_string() && !out.get<std::string>().empty()),
                    "result_text is null or not empty");
    ci::fuzz::check(!json::parse(ci::fuzz::dump(response), nullptr, false).is_discarded(),
                    "the HTTP response body is JSON");
    return 0;
}
