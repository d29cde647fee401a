#pragma once
// Turns an agent's ExecutionResult into answer bodies: the seed's {result_text, result_base64}, the
// richer fields beside them, and the events of a streamed execution.
#include <optional>
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

// The fields an execute answer carries beside the seed's:
//   stdout, stderr: each stream's text, in order;
//   outputs: every display_data and execute_result as {type, data (MIME bundle), metadata}, in order;
//   error: the kernel's exception as {ename, evalue, traceback (lines without colours)}, or null;
//   execution_count, truncated, and duration_ms (the agent's time from handing the code to the
//   kernel until the execution completed; 0 from an agent that does not measure it).
nlohmann::json output_fields(const protocol::ExecutionResult& result);

// {new_session, previous_session (null when empty)}: what every answer that may have started the
// user's session says about it (SessionManager's ExecutionAnswer explains the values).
nlohmann::json session_fields(bool new_session, const std::string& previous_session);

// A streamed output as a Server-Sent Event: "stdout" / "stderr" {text}, "display" {type, data,
// metadata} or "error" {ename, evalue, traceback}; nullopt for an output type nobody streams.
struct OutputEvent {
    std::string name;
    nlohmann::json data;
};
std::optional<OutputEvent> output_event(const protocol::OutputItem& item);

}  // namespace ci
