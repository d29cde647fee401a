#include "code_interpreter/agent/jupyter_message.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci::agent {
namespace {

// Below protocol::kMaxJsonDepth: the agent wraps kernel content in a few levels of its own.
constexpr int kMaxKernelJsonDepth = 48;

using nlohmann::json;

std::string string_field(const json& object, const char* name) {
    if (!object.is_object()) return {};
    auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// ISO 8601 in UTC with microseconds, as jupyter_client writes it.
std::string iso8601_now() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t seconds = system_clock::to_time_t(now);
    auto micros = duration_cast<microseconds>(now.time_since_epoch()).count() % 1000000;
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char buffer[40];
    std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(buffer + n, sizeof buffer - n, ".%06lldZ", static_cast<long long>(micros));
    return buffer;
}

std::string dump(const json& value) {
    // Replace invalid UTF-8 rather than throw: a bad byte must not take the agent down.
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string JupyterMessage::msg_type() const { return string_field(header, "msg_type"); }
std::string JupyterMessage::msg_id() const { return string_field(header, "msg_id"); }
std::string JupyterMessage::parent_msg_id() const { return string_field(parent_header, "msg_id"); }

json make_header(std::string_view msg_type, std::string_view session, std::string_view username) {
    return {
        {"msg_id", crypto::random_hex(16)},
        {"session", session},
        {"username", username},
        {"date", iso8601_now()},
        {"msg_type", msg_type},
        {"version", kJupyterProtocolVersion},
    };
}

std::string sign(std::string_view key, std::string_view header, std::string_view parent_header,
                 std::string_view metadata, std::string_view content) {
    return crypto::hmac_sha256_hex(key, {header, parent_header, metadata, content});
}

std::vector<std::string> to_wire(const JupyterMessage& message, std::string_view key) {
    std::vector<std::string> frames = message.identities;
    std::string header = dump(message.header);
    std::string parent = dump(message.parent_header);
    std::string metadata = dump(message.metadata);
    std::string content = dump(message.content);
    frames.emplace_back(kDelimiter);
    frames.push_back(sign(key, header, parent, metadata, content));
    frames.push_back(std::move(header));
    frames.push_back(std::move(parent));
    frames.push_back(std::move(metadata));
    frames.push_back(std::move(content));
    frames.insert(frames.end(), message.buffers.begin(), message.buffers.end());
    return frames;
}

ParsedMessage parse_wire(const std::vector<std::string>& frames, std::string_view key) {
    ParsedMessage out;
    std::size_t delimiter = 0;
    while (delimiter < frames.size() && frames[delimiter] != kDelimiter) ++delimiter;
    if (delimiter == frames.size()) {
        out.error = "no <IDS|MSG> delimiter";
        return out;
    }
    // signature, header, parent_header, metadata, content
    if (frames.size() - delimiter - 1 < 5) {
        out.error = "too few frames after the delimiter";
        return out;
    }
    const std::string& signature = frames[delimiter + 1];
    const std::string& header = frames[delimiter + 2];
    const std::string& parent = frames[delimiter + 3];
    const std::string& metadata = frames[delimiter + 4];
    const std::string& content = frames[delimiter + 5];
    if (!crypto::constant_time_equal(signature, sign(key, header, parent, metadata, content))) {
        out.error = "bad signature";
        return out;
    }
    JupyterMessage message;
    message.identities.assign(frames.begin(), frames.begin() + static_cast<long>(delimiter));
    const std::pair<const std::string*, json*> parts[] = {{&header, &message.header},
                                                          {&parent, &message.parent_header},
                                                          {&metadata, &message.metadata},
                                                          {&content, &message.content}};
    for (const auto& [text, target] : parts) {
        // User code writes the content (display data, metadata): cap its depth before parsing,
        // below the gateway's cap on whole replies, which wrap outputs in a few more levels.
        if (protocol::json_deeper_than(*text, kMaxKernelJsonDepth)) {
            out.error = "a frame nests deeper than " + std::to_string(kMaxKernelJsonDepth) + " levels";
            return out;
        }
        *target = json::parse(*text, nullptr, /*allow_exceptions=*/false);
        if (!target->is_object()) {
            out.error = "a header, metadata or content frame is not a JSON object";
            return out;
        }
    }
    message.buffers.assign(frames.begin() + static_cast<long>(delimiter) + 6, frames.end());
    out.message = std::move(message);
    return out;
}

}  // namespace ci::agent
