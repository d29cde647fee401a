#pragma once
// What the gateway asks of a worker's agent: one type per operation, each spelled on the wire once
// (requests.cpp), encoded by the gateway and decoded strictly by the agent (and by its file
// server, which runs as the kernel's user). A message is {"id": <uint64>, "op": <name>, ...the
// operation's fields}; agent_protocol.hpp says how it is framed and signed and what comes back.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace ci::protocol {

// "ping": answered {"ready": true} once the kernel is ready (the first answer is the worker's
// readiness signal).
struct PingRequest {};

// "execute": runs code as one cell. Output beyond max_output_bytes is dropped and marked
// truncated (0 keeps none: the gateway's internal probes). stream: each output is also sent as
// an event before the final reply.
struct ExecuteRequest {
    std::string code;
    std::uint64_t max_output_bytes = 0;
    bool store_history = false;
    bool stream = false;
};

// "interrupt": interrupts the running execution; answered {"interrupted": <whether one ran>}.
struct InterruptRequest {};

// The workspace's files (agent_protocol.hpp: paths, confinement, replies, error kinds).
// "file_write": data written to a temporary file renamed over path, or appended to the existing
// regular file path.
struct FileWriteRequest {
    std::string path;
    std::string data;  // the bytes ("data_base64" on the wire)
    bool overwrite = true;
    bool make_parents = true;
    bool append = false;
};

// "file_read": the whole file (at most max_bytes, default and ceiling kMaxFileBytes), or with
// offset or length a part of at most length bytes from offset, and the whole size.
struct FileReadRequest {
    std::string path;
    std::optional<std::uint64_t> offset;
    std::optional<std::uint64_t> length;
    std::optional<std::uint64_t> max_bytes;
    bool partial() const { return offset || length; }
};

// "file_list": a directory's entries.
struct FileListRequest {
    std::string path = ".";
};

// "file_delete": a file, a link, or (with recursive) a directory and what it holds.
struct FileDeleteRequest {
    std::string path;
    bool recursive = false;
};

// "file_move": renames from to to (to's missing parents are made).
struct FileMoveRequest {
    std::string from;
    std::string to;
    bool overwrite = true;
};

using Request = std::variant<PingRequest, ExecuteRequest, InterruptRequest, FileWriteRequest, FileReadRequest,
                             FileListRequest, FileDeleteRequest, FileMoveRequest>;

// The operation's name on the wire ("execute", "file_read", ...).
std::string_view op_name(const Request& request);
// The operations the agent's file server does (every file_* one).
bool is_file_request(const Request& request);

// The message body without its "id" (the sender adds it).
nlohmann::json encode_request(const Request& request);

// The request a body carries, or why it is refused: a missing or unknown "op", a field of the
// wrong type, a field the operation does not have, data_base64 that is not base64. "id" is the
// sender's to check.
std::variant<Request, std::string> decode_request(const nlohmann::json& body);

}  // namespace ci::protocol
