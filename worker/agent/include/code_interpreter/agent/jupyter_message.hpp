#pragma once
// Jupyter wire messages: building, signing, verifying and parsing them.
//
// On the wire a message is
//   [routing ids..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]
// where signature is the hex HMAC-SHA256 of header, parent_header, metadata and content as sent.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::agent {

inline constexpr std::string_view kDelimiter = "<IDS|MSG>";
inline constexpr std::string_view kJupyterProtocolVersion = "5.3";

struct JupyterMessage {
    std::vector<std::string> identities;  // frames before the delimiter (routing ids, iopub topic)
    nlohmann::json header = nlohmann::json::object();
    nlohmann::json parent_header = nlohmann::json::object();
    nlohmann::json metadata = nlohmann::json::object();
    nlohmann::json content = nlohmann::json::object();
    std::vector<std::string> buffers;

    // header.msg_type, header.msg_id and parent_header.msg_id; "" when absent or not a string.
    std::string msg_type() const;
    std::string msg_id() const;
    std::string parent_msg_id() const;
};

// A header for a new message with a fresh random msg_id and the current time.
nlohmann::json make_header(std::string_view msg_type, std::string_view session,
                           std::string_view username);

// The Jupyter signature of the four serialized dicts.
std::string sign(std::string_view key, std::string_view header, std::string_view parent_header,
                 std::string_view metadata, std::string_view content);

// The frames for message, signed with key.
std::vector<std::string> to_wire(const JupyterMessage& message, std::string_view key);

struct ParsedMessage {
    std::optional<JupyterMessage> message;  // set when the frames verified and parsed
    std::string error;                      // why not, otherwise
};

// Verifies the signature over the frames as received, then parses them.
ParsedMessage parse_wire(const std::vector<std::string>& frames, std::string_view key);

}  // namespace ci::agent
