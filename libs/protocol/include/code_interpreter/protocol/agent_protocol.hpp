#pragma once
// The gateway <-> agent message format, written once for both ends.
//
// Transport: ZeroMQ. The agent binds a ROUTER socket; the gateway connects one DEALER per worker.
// Every message is three frames after any routing frames:
//   [kWireVersion, signature, body]
// where body is a JSON object and signature = hex HMAC-SHA256(key, kWireVersion || body) with the
// per-worker key. A message whose signature does not verify is dropped by the receiver.
//
// Requests (gateway -> agent): {"id": <uint64>, "op", ...}, one type per operation in
// requests.hpp, which encodes and strictly decodes them.
// Replies  (agent -> gateway), same "id":
//   ping       {"ok": true, "ready": true}  (sent only once the kernel is ready, so the first
//              answer is the worker's readiness signal)
//   execute    {"ok": true, "result": ExecutionResult}
//   interrupt  {"ok": true, "interrupted": <bool>}
//   any        {"ok": false, "error": "<one sentence>"} (a malformed request, a dead kernel)
//
// Streaming: with "stream": true the agent sends, before the final reply, zero or more events
//   {"id": <the execute's id>, "event": OutputItem}        (no "ok" key: that marks an event)
// one per output message of the kernel (stream, display_data, execute_result, error), in the
// kernel's order, after the output limit: a stream event holds only that message's text (the
// result merges consecutive text of one stream), a cut text is sent cut, a dropped output is not
// sent. clear_output and update_display_data send nothing, and an error that the kernel reported
// only in its execute_reply appears only in the result. The final reply is the same as without
// streaming and holds every output.
//
// Workspace files (the kernel's working directory). Paths are relative to it, "/"-separated; "."
// is the workspace itself. Refused with invalid_path: empty, absolute, a ".." component, a NUL
// byte, and any path through a symbolic link. No link is ever followed, the last component
// included: file_read and file_list refuse it, file_write replaces the link itself (and append
// refuses it), file_delete removes the link itself, file_move moves or replaces the link itself.
// File operations run beside executions: they never wait for the kernel. Replies:
//   file_write   {"ok": true, "file": {"path": P, "size": <bytes>}}: written to a temporary file
//                in the same directory, then renamed over P, mode 0644, owned by the kernel's user;
//                new parent directories get mode 0755. With append, the data goes at the end of
//                the existing regular file P (one part of a file larger than one message) and
//                "size" is the file's size after it.
//   file_read    {"ok": true, "file": {"path": P, "size": <bytes>}, "data_base64": B}; a file
//                above max_bytes is too_large, one that is not a regular file invalid_path. A part
//                (offset or length given) also says "offset": B holds up to length bytes from it
//                (fewer at the end, none past it) and "size" is the whole file's.
//   file_list    {"ok": true, "path": P, "entries": [{"name", "type": "file" | "directory" |
//                "symlink" | "other", "size": <bytes; 0 unless a file>, "modified_unix_ms"}]},
//                sorted by name (bytewise); at most kMaxListEntries entries, else too_large.
//   file_delete  {"ok": true}: a directory needs recursive; the workspace itself cannot be deleted.
//   file_move    {"ok": true}: a directory at "to" is is_a_directory, an existing "to" without
//                overwrite is exists.
//   Failure: {"ok": false, "error": "<one sentence>", "error_kind": K}, K one of
//     invalid_path, not_found, exists, is_a_directory, not_a_directory, not_empty (a directory
//     that gained entries while it was deleted), too_large (a file or data above the limit: the
//     message gives both sizes), no_space, io (anything else, including a file server that is
//     gone), invalid_request (a request the agent refused to decode: a bug of the sender, never
//     the user's doing).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::protocol {

inline constexpr std::string_view kWireVersion = "ci-agent/1";

// The largest file that file_write accepts and file_read returns.
inline constexpr std::uint64_t kMaxFileBytes = 32ULL << 20;
// The largest message the agent accepts (the gateway sends file_write data of up to kMaxFileBytes
// as base64, about 43 MiB, and code of at most server.max_body_bytes, at most 6 bytes per byte).
inline constexpr std::size_t kMaxRequestBytes = 64ULL << 20;
// The largest max_output_bytes: what an execution keeps must fit a reply the gateway accepts.
inline constexpr std::uint64_t kMaxOutputBytesCeiling = 64ULL << 20;
// The most entries file_list returns.
inline constexpr std::size_t kMaxListEntries = 100000;
// Bodies nested deeper are refused before they are parsed (the parser recurses per level); a
// result's MIME bundles and metadata come from user code, so this leaves them room.
inline constexpr int kMaxJsonDepth = 64;

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
    std::uint64_t duration_ms = 0;  // agent wall time from the execute_request to completion
};

void to_json(nlohmann::json& j, const OutputItem& item);
void from_json(const nlohmann::json& j, OutputItem& item);
void to_json(nlohmann::json& j, const ExecutionResult& result);
void from_json(const nlohmann::json& j, ExecutionResult& result);

// The largest reply the gateway accepts from an agent whose executions keep max_output_bytes: a
// file_read of kMaxFileBytes as base64, or a result whose counted bytes (each output's included,
// see the agent's ExecutionCollector) take at most 6 bytes each in JSON (\u00XX).
std::size_t max_reply_bytes(std::uint64_t max_output_bytes);

// Whether JSON text nests arrays and objects deeper than max_depth (strings skipped), found
// without parsing it: a parser recurses once per level, so untrusted text is checked first.
bool json_deeper_than(std::string_view text, int max_depth);

// Builds the three signed frames for body.
std::vector<std::string> encode_message(std::string_view key, const nlohmann::json& body);

struct DecodedMessage {
    std::optional<nlohmann::json> body;  // set when the frames verified and parsed
    std::string error;                   // why not, otherwise
    bool signed_by_key = false;          // the signature verified: a bad body is the key holder's doing
};

// frames are the three frames after any routing frames. Refused: a wrong frame count or version, a
// bad signature, a body that is not a JSON object or nests deeper than kMaxJsonDepth.
DecodedMessage decode_message(std::string_view key, const std::vector<std::string>& frames);

}  // namespace ci::protocol
