#pragma once
// The gateway <-> agent message format, written once for both ends.
//
// Transport: ZeroMQ. The agent binds a ROUTER socket; the gateway connects one DEALER per worker.
// Every message is three frames after any routing frames:
//   [kWireVersion, signature, body]
// where body is a JSON object and signature = hex HMAC-SHA256(key, kWireVersion || body) with the
// per-worker key. A message whose signature does not verify is dropped by the receiver.
//
// Requests  (gateway -> agent): {"id": <uint64>, "op": "ping"}
//                               {"id": <uint64>, "op": "execute", "code": "...",
//                                "max_output_bytes": <uint64>, "store_history": <bool, default false>}
//                               {"id": <uint64>, "op": "interrupt"}   (interrupts the running execution)
// Replies   (agent -> gateway): {"id": <same>, "ok": true, "result": ExecutionResult}   (execute)
//                               {"id": <same>, "ok": true, "ready": true}              (ping)
//                               {"id": <same>, "ok": true, "interrupted": <bool>}      (interrupt)
//                               {"id": <same>, "ok": false, "error": "..."}
// The agent answers a ping only once its kernel is ready, so the first ping's answer is the
// worker's readiness signal.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::protocol {

inline constexpr std::string_view kWireVersion = "ci-agent/1";

// One output of an execution, in the order the kernel produced it.
struct OutputItem {
    std::string type;             // "stream" | "display_data" | "execute_result" | "error"
    std::string name;             // stream: "stdout" or "stderr"
    std::string text;             // stream: the text
    nlohmann::json data;          // display_data, execute_result: MIME bundle (mime -> value)
    nlohmann::json metadata;      // display_data, execute_result: the kernel's metadata
    int execution_count = 0;      // execute_result
    std::string ename;            // error
    std::string evalue;           // error
    std::vector<std::string> traceback;  // error: lines, ANSI colours as the kernel sent them
};

struct ExecutionResult {
    std::string status;           // the kernel's execute_reply status: "ok" | "error" | "aborted"
    int execution_count = 0;
    std::vector<OutputItem> outputs;
    bool truncated = false;       // output beyond max_output_bytes was dropped
};

void to_json(nlohmann::json& j, const OutputItem& item);
void from_json(const nlohmann::json& j, OutputItem& item);
void to_json(nlohmann::json& j, const ExecutionResult& result);
void from_json(const nlohmann::json& j, ExecutionResult& result);

// Builds the three signed frames for body.
std::vector<std::string> encode_message(std::string_view key, const nlohmann::json& body);

struct DecodedMessage {
    std::optional<nlohmann::json> body;  // set when the frames verified and parsed
    std::string error;                   // why not, otherwise
};

// frames are the three frames after any routing frames.
DecodedMessage decode_message(std::string_view key, const std::vector<std::string>& frames);

}  // namespace ci::protocol
