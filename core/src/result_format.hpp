#pragma once
// Turns an agent's ExecutionResult into the seed's response body {result_text, result_base64}.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci {

// Removes ANSI escape sequences (the kernel colours its tracebacks).
std::string strip_ansi(std::string_view text);

// result_text: stdout and stderr in order, the text/plain of results and of text-only displays,
// and the traceback of an error (without colours); null when there is none.
// result_base64: the PNG of the last image; null when there is none.
nlohmann::json seed_response(const protocol::ExecutionResult& result);

}  // namespace ci
