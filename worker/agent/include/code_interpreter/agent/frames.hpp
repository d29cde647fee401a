#pragma once
// Length-prefixed JSON on the socket between the agent and its file server: each frame is a 4-byte
// big-endian length, then that many bytes of JSON text.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ci::agent {

// Room for the largest file (protocol::kMaxFileBytes) in base64 with its JSON around it.
inline constexpr std::size_t kMaxFrameBytes = 64U << 20;

// The frame holding body, or nullopt when its text is longer than kMaxFrameBytes.
std::optional<std::string> encode_frame(const nlohmann::json& body);

// Splits a byte stream into frames' texts.
class FrameReader {
public:
    void append(std::string_view bytes);

    // The next complete frame's text, or nullopt until more bytes arrive (or after a failure).
    std::optional<std::string> next();

    // A frame announced more than kMaxFrameBytes: the stream cannot be trusted any further.
    bool failed() const { return failed_; }

private:
    std::string buffer_;
    std::size_t start_ = 0;  // where the unread bytes of buffer_ begin
    bool failed_ = false;
};

}  // namespace ci::agent
