#include "code_interpreter/protocol/agent_protocol.hpp"

#include "code_interpreter/crypto/crypto.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ci::protocol {
namespace {

// An int field, or fallback when absent or not an integer that fits (a float would be undefined
// behaviour to convert).
int int_field(const nlohmann::json& j, const char* key, int fallback) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return fallback;
    auto v = it->get<std::int64_t>();
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return fallback;
    return static_cast<int>(v);
}

std::uint64_t uint64_field(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

}  // namespace

void to_json(nlohmann::json& j, const OutputItem& item) {
    j = nlohmann::json{{"type", item.type}};
    if (item.type == "stream") {
        j["name"] = item.name;
        j["text"] = item.text;
    } else if (item.type == "error") {
        j["ename"] = item.ename;
        j["evalue"] = item.evalue;
        j["traceback"] = item.traceback;
    } else {
        j["data"] = item.data.is_null() ? nlohmann::json::object() : item.data;
        j["metadata"] = item.metadata.is_null() ? nlohmann::json::object() : item.metadata;
        if (item.type == "execute_result") j["execution_count"] = item.execution_count;
    }
}

void from_json(const nlohmann::json& j, OutputItem& item) {
    item = OutputItem{};
    item.type = j.at("type").get<std::string>();
    item.name = j.value("name", "");
    item.text = j.value("text", "");
    item.data = j.value("data", nlohmann::json::object());
    item.metadata = j.value("metadata", nlohmann::json::object());
    item.execution_count = int_field(j, "execution_count", 0);
    item.ename = j.value("ename", "");
    item.evalue = j.value("evalue", "");
    item.traceback = j.value("traceback", std::vector<std::string>{});
}

void to_json(nlohmann::json& j, const ExecutionResult& result) {
    j = nlohmann::json{{"status", result.status},
                       {"execution_count", result.execution_count},
                       {"outputs", result.outputs},
                       {"truncated", result.truncated},
                       {"duration_ms", result.duration_ms}};
}

void from_json(const nlohmann::json& j, ExecutionResult& result) {
    result.status = j.at("status").get<std::string>();
    result.execution_count = int_field(j, "execution_count", 0);
    result.outputs = j.at("outputs").get<std::vector<OutputItem>>();
    result.truncated = j.value("truncated", false);
    result.duration_ms = uint64_field(j, "duration_ms");
}

std::size_t max_reply_bytes(std::uint64_t max_output_bytes) {
    constexpr std::size_t kEnvelope = 1 << 20;  // ids, keys, file names, list entries' fields
    const std::size_t file = (kMaxFileBytes + 2) / 3 * 4;
    return std::max<std::size_t>(file, 6 * max_output_bytes) + kEnvelope;
}

bool json_deeper_than(std::string_view text, int max_depth) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

std::vector<std::string> encode_message(std::string_view key, const nlohmann::json& body) {
    std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string signature = crypto::hmac_sha256_hex(key, {kWireVersion, text});
    return {std::string(kWireVersion), std::move(signature), std::move(text)};
}

DecodedMessage decode_message(std::string_view key, const std::vector<std::string>& frames) {
    DecodedMessage out;
    if (frames.size() != 3) {
        out.error = "expected 3 frames, got " + std::to_string(frames.size());
        return out;
    }
    if (frames[0] != kWireVersion) {
        out.error = "unknown wire version";
        return out;
    }
    if (!crypto::constant_time_equal(frames[1], crypto::hmac_sha256_hex(key, {frames[0], frames[2]}))) {
        out.error = "bad signature";
        return out;
    }
    out.signed_by_key = true;
    if (json_deeper_than(frames[2], kMaxJsonDepth)) {
        out.error = "body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
        return out;
    }
    auto parsed = nlohmann::json::parse(frames[2], nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) {
        out.error = "body is not a JSON object";
        return out;
    }
    out.body = std::move(parsed);
    return out;
}

}  // namespace ci::protocol
