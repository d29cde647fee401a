#pragma once
// What the gateway checks of an agent's message before it reads a single field of it. The agent
// runs beside user code that may have taken it over, so a signed reply is still untrusted data:
// a field of the wrong type must be refused here, not throw later in whoever reads it.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ci::protocol {

// Why the final reply `body` to a request of operation `op` (op_name) is malformed, or nothing
// when every field a reader uses has its type: "ok" a boolean; a refusal's "error" a string and
// its "error_kind" absent or a string; an answer's fields as agent_protocol.hpp lists them.
std::optional<std::string> reply_defect(std::string_view op, const nlohmann::json& body);

// Why a streamed "event" value is not an OutputItem with well-typed fields, or nothing.
std::optional<std::string> output_defect(const nlohmann::json& item);

}  // namespace ci::protocol
