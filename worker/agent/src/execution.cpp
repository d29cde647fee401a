#include "code_interpreter/agent/execution.hpp"

#include <algorithm>
#include <utility>

namespace ci::agent {
namespace {

using nlohmann::json;

constexpr auto kOutputOverhead = ExecutionCollector::kOutputOverhead;
constexpr auto kTracebackLineOverhead = ExecutionCollector::kTracebackLineOverhead;

// The kernel is not trusted to send well-typed fields: a wrong type reads as empty.
std::string string_field(const json& object, const char* name) {
    auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

int int_field(const json& object, const char* name) {
    auto it = object.find(name);
    return it != object.end() && it->is_number_integer() ? it->get<int>() : 0;
}

json object_field(const json& object, const char* name) {
    auto it = object.find(name);
    return it != object.end() && it->is_object() ? *it : json::object();
}

protocol::OutputItem error_item(const json& content) {
    protocol::OutputItem item;
    item.type = "error";
    item.ename = string_field(content, "ename");
    item.evalue = string_field(content, "evalue");
    if (auto it = content.find("traceback"); it != content.end() && it->is_array())
        for (const auto& line : *it)
            if (line.is_string()) item.traceback.push_back(line.get<std::string>());
    return item;
}

protocol::OutputItem stream_item(std::string name, std::string text) {
    protocol::OutputItem item;
    item.type = "stream";
    item.name = std::move(name);
    item.text = std::move(text);
    return item;
}

// The longest prefix of text of at most max bytes that does not split a UTF-8 sequence.
std::size_t utf8_prefix_length(const std::string& text, std::size_t max) {
    std::size_t n = std::min(max, text.size());
    while (n > 0 && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    return n;
}

std::uint64_t serialized_bytes(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace).size();
}

// A MIME bundle: its keys, its text values as their bytes, other values (application/json) as
// their serialization.
std::uint64_t data_bytes(const json& bundle) {
    std::uint64_t total = 0;
    for (const auto& [key, value] : bundle.items())
        total += key.size() + (value.is_string() ? value.get_ref<const std::string&>().size() : serialized_bytes(value));
    return total;
}

std::uint64_t error_bytes(const protocol::OutputItem& error, bool with_traceback) {
    std::uint64_t total = kOutputOverhead + error.ename.size() + error.evalue.size();
    if (with_traceback)
        for (const auto& line : error.traceback) total += kTracebackLineOverhead + line.size();
    return total;
}

}  // namespace

json execute_request_content(const std::string& code, bool store_history) {
    return {
        {"code", code},
        {"silent", false},
        {"store_history", store_history},
        {"user_expressions", json::object()},
        {"allow_stdin", false},
        // The gateway sends one execution at a time, so there is never a queued request to skip;
        // with true, ipykernel 6 also aborts a request arriving just after an error, which would
        // come back as an empty success.
        {"stop_on_error", false},
    };
}

ExecutionCollector::ExecutionCollector(std::string msg_id, std::uint64_t max_output_bytes,
                                       bool stream)
    : msg_id_(std::move(msg_id)), limit_(max_output_bytes), stream_(stream) {}

void ExecutionCollector::on_iopub(const JupyterMessage& message) {
    if (message.parent_msg_id() != msg_id_) return;
    const std::string type = message.msg_type();
    const json& content = message.content;
    if (type == "status") {
        if (string_field(content, "execution_state") == "idle") idle_ = true;
    } else if (type == "stream") {
        add_stream(content);
    } else if (type == "display_data" || type == "execute_result") {
        add_rich(type, content);
    } else if (type == "error") {
        add_error(content);
    } else if (type == "clear_output") {
        // wait=True defers the clear until the next output, as a frontend does.
        clear_pending_ = true;
        auto wait = content.find("wait");
        if (wait == content.end() || !wait->is_boolean() || !wait->get<bool>())
            apply_pending_clear();
    }
    // Anything else (execute_input, status busy, update_display_data, ...) is not an output.
}

void ExecutionCollector::on_shell(const JupyterMessage& message) {
    if (message.parent_msg_id() != msg_id_ || message.msg_type() != "execute_reply") return;
    reply_ = message.content;
    result_.status = string_field(*reply_, "status");
    result_.execution_count = int_field(*reply_, "execution_count");
}

protocol::ExecutionResult ExecutionCollector::take_result() {
    // An error the kernel reported only in its reply would otherwise be invisible (it is not
    // streamed: the result carries it).
    if (reply_ && result_.status == "error" && !iopub_error_) keep_error(error_item(*reply_), false);
    return std::move(result_);
}

std::uint64_t ExecutionCollector::room() const { return used_ < limit_ ? limit_ - used_ : 0; }

void ExecutionCollector::apply_pending_clear() {
    if (!clear_pending_) return;
    clear_pending_ = false;
    result_.outputs.clear();
    // What was streamed stays sent: it keeps counting, and a cut stays a cut. Without streaming,
    // cleared output no longer counts, nor does what was cut from it.
    if (stream_) return;
    result_.truncated = false;
    used_ = 0;
}

void ExecutionCollector::add_stream(const json& content) {
    apply_pending_clear();
    if (result_.truncated) return;
    std::string name = string_field(content, "name");
    std::string text = string_field(content, "text");
    if (kOutputOverhead + text.size() > room()) {
        text.resize(utf8_prefix_length(text, room() > kOutputOverhead ? room() - kOutputOverhead : 0));
        result_.truncated = true;
    }
    if (text.empty()) return;
    used_ += kOutputOverhead + text.size();
    if (stream_) events_.push_back(stream_item(name, text));
    auto& outputs = result_.outputs;
    if (!outputs.empty() && outputs.back().type == "stream" && outputs.back().name == name) {
        outputs.back().text += text;
        return;
    }
    outputs.push_back(stream_item(std::move(name), std::move(text)));
}

void ExecutionCollector::add_rich(const std::string& type, const json& content) {
    apply_pending_clear();
    if (result_.truncated) return;
    json data = object_field(content, "data");
    json metadata = object_field(content, "metadata");
    const std::uint64_t size = kOutputOverhead + data_bytes(data) + serialized_bytes(metadata);
    if (size > room()) {
        result_.truncated = true;
        return;
    }
    used_ += size;
    protocol::OutputItem item;
    item.type = type;
    item.data = std::move(data);
    item.metadata = std::move(metadata);
    if (type == "execute_result") item.execution_count = int_field(content, "execution_count");
    if (stream_) events_.push_back(item);
    result_.outputs.push_back(std::move(item));
}

void ExecutionCollector::add_error(const json& content) {
    apply_pending_clear();
    iopub_error_ = true;
    keep_error(error_item(content), stream_);
}

// An error that does not fit loses its traceback; one whose name and message do not fit either is
// dropped. Either way the output is cut there.
void ExecutionCollector::keep_error(protocol::OutputItem error, bool send) {
    if (result_.truncated) return;
    if (error_bytes(error, true) > room()) {
        result_.truncated = true;
        if (error_bytes(error, false) > room()) return;
        error.traceback.clear();
    }
    used_ += error_bytes(error, true);
    result_.outputs.push_back(std::move(error));
    if (send) events_.push_back(result_.outputs.back());
}

}  // namespace ci::agent
