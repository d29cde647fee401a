#pragma once
// What the MCP tools answer (docs/mcp.md): an execution, a file or a failure as a tools/call
// result, {content: [text | image | resource items], isError}.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api_error.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci::mcp {

// An execution: stdout, stderr (after "[stderr]\n"), each result or display as text or image, and
// the exception with its traceback (isError); "(no output)" when there is nothing. previous_session
// (how the user's earlier session ended, when this run had to start a new one) is said last, since
// an agent must know its variables are gone.
nlohmann::json execution_result(const protocol::ExecutionResult& result, const std::string& previous_session);
// A refusal or failure of the gateway (pool exhausted, timeout, missing file...) as isError text.
nlohmann::json failure_result(const ApiError& error);
// Plain text, not an error.
nlohmann::json text_result(std::string text);
// A downloaded file: text when it is UTF-8 without NUL bytes, an image for PNG, JPEG, GIF and WebP,
// else an embedded resource holding its bytes (base64) at file:///sandbox/<path>.
nlohmann::json file_result(std::string_view path, const std::string& bytes);
// What a streamed output adds to a progress notification's message (its text); nullopt for
// outputs without text (images).
std::optional<std::string> progress_text(const protocol::OutputItem& item);

// The image MIME type of a display bundle that MCP image content can carry, if any.
std::optional<std::string> image_type(const nlohmann::json& bundle);

}  // namespace ci::mcp
