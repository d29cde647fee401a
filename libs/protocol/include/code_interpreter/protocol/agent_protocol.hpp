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
//                                "max_output_bytes": <uint64>, "store_history": <bool, default false>,
//                                "stream": <bool, default false>}
//                               {"id": <uint64>, "op": "interrupt"}   (interrupts the running execution)
// Replies   (agent -> gateway): {"id": <same>, "ok": true, "result": ExecutionResult}   (execute)
//                               {"id": <same>, "ok": true, "ready": true}              (ping)
//                               {"id": <same>, "ok": true, "interrupted": <bool>}      (interrupt)
//                               {"id": <same>, "ok": false, "error": "..."}
// The agent answers a ping only once its kernel is ready, so the first ping's answer is the
// worker's readiness signal.
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
// included: file_read and file_list refuse it, file_write replaces the link itself, file_delete
// removes the link itself. File operations run beside executions: they never wait for the kernel.
//   {"id", "op": "file_write", "path": P, "data_base64": B, "overwrite": <bool, default true>,
//    "make_parents": <bool, default true>}
//        -> {"id", "ok": true, "file": {"path": P, "size": <bytes>}}
//        Written to a temporary file in the same directory, then renamed over P: mode 0644, owned
//        by the kernel's user. New parent directories get mode 0755.
//        With "append": true, B is appended to the existing regular file P instead (one part of a
//        file larger than one message; "overwrite" and "make_parents" do not apply) and "size" is
//        the file's size after it.
//   {"id", "op": "file_read", "path": P, "max_bytes": <uint64, default and at most kMaxFileBytes>}
//        -> {"id", "ok": true, "file": {"path": P, "size": <bytes>}, "data_base64": B}
//        A file above max_bytes is too_large; one that is not a regular file is invalid_path.
//   {"id", "op": "file_read", "path": P, "offset": <uint64>, "length": <uint64, at most
//    kMaxFileBytes>, "max_bytes": <uint64, optional>}   (either of offset/length: a part)
//        -> {"id", "ok": true, "file": {"path": P, "size": <whole file>}, "offset", "data_base64"}
//        B holds up to length bytes from offset (fewer at the end, none past it); a file above
//        max_bytes is too_large.
//   {"id", "op": "file_move", "from": P, "to": Q, "overwrite": <bool, default true>}
//        -> {"id", "ok": true}
//        Renames P to Q (Q's missing parents are made), never following a link at either end; a
//        directory at Q is is_a_directory, an existing Q without overwrite is exists.
//   {"id", "op": "file_list", "path": <P, default ".">}
//        -> {"id", "ok": true, "path": P, "entries": [{"name", "type": "file" | "directory" |
//            "symlink" | "other", "size": <bytes; 0 unless a file>, "modified_unix_ms"}]}
//        sorted by name (bytewise); at most kMaxListEntries entries, else too_large.
//   {"id", "op": "file_delete", "path": P, "recursive": <bool, default false>}
//        -> {"id", "ok": true}
//        A directory needs "recursive"; symbolic links are removed, never followed. The workspace
//        itself cannot be deleted.
//   Failure: {"id", "ok": false, "error": "<one sentence>", "error_kind": K}, K one of
//     invalid_path, not_found, exists, is_a_directory, not_a_directory, not_empty (a directory
//     that gained entries while it was deleted), too_large (a file or data above the limit: the
//     message gives both sizes), no_space, io (anything else, including a file server that is
//     gone), invalid_request (a field of the wrong type, bad base64 or an unknown file op: a bug
//     of the sender, never the user's doing).
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
// The most entries file_list returns.
inline constexpr std::size_t kMaxListEntries = 100000;

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

// Builds the three signed frames for body.
std::vector<std::string> encode_message(std::string_view key, const nlohmann::json& body);

struct DecodedMessage {
    std::optional<nlohmann::json> body;  // set when the frames verified and parsed
    std::string error;                   // why not, otherwise
};

// frames are the three frames after any routing frames.
DecodedMessage decode_message(std::string_view key, const std::vector<std::string>& frames);

}  // namespace ci::protocol
