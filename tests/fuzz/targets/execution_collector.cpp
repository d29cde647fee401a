// The agent's ExecutionCollector fed with an arbitrary sequence of kernel messages, then the path
// of its result to the gateway: to_json, encode_message, decode_message, from_json. A second,
// streaming collector gets the same messages: its result must be the same, and its events must
// add up to the outputs.
//
// Input, one item a line (JSON text has no raw newline):
//   line 1: max_output_bytes in decimal (anything else: 0, no limit)
//   then:   <channel> <msg_type> <content JSON object>
// channel: 's' shell or 'i' iopub for this execution's request, 'x' iopub for another request.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "code_interpreter/agent/execution.hpp"
#include "fuzz_util.hpp"

using nlohmann::json;
namespace protocol = ci::protocol;

namespace {

constexpr const char* kRequest = "request-1";

// The same count as the collector's: string values by their bytes, others by their JSON text.
std::uint64_t data_bytes(const json& bundle) {
    std::uint64_t total = 0;
    for (const auto& value : bundle)
        total += value.is_string() ? value.get_ref<const std::string&>().size() : ci::fuzz::dump(value).size();
    return total;
}

void check_result(const protocol::ExecutionResult& result, std::uint64_t limit) {
    std::uint64_t counted = 0;
    const protocol::OutputItem* previous = nullptr;
    for (const auto& item : result.outputs) {
        if (item.type == "stream") {
            counted += item.text.size();
            ci::fuzz::check(!item.text.empty(), "no empty stream output");
            ci::fuzz::check(!(previous && previous->type == "stream" && previous->name == item.name),
                            "consecutive text of one stream is merged");
        } else if (item.type != "error") {
            counted += data_bytes(item.data);
        }
        previous = &item;
    }
    ci::fuzz::check(limit == 0 || counted <= limit, "outputs fit in max_output_bytes");

    // The agent's reply must reach the gateway intact: a stream cut in the middle of a UTF-8
    // sequence would come back altered by the sender's replacement of invalid bytes.
    json sent = result;
    auto decoded = protocol::decode_message(ci::fuzz::kKey, protocol::encode_message(ci::fuzz::kKey, {{"result", sent}}));
    ci::fuzz::check(decoded.body.has_value(), "the gateway verifies the agent's reply");
    protocol::ExecutionResult received;
    try {
        received = decoded.body->at("result").get<protocol::ExecutionResult>();
    } catch (const std::exception&) {
        ci::fuzz::check(false, "the gateway reads the agent's result");
    }
    ci::fuzz::check(json(received) == sent, "the result arrives unchanged");
}

// The events merged as the result merges them: consecutive text of one stream joined.
std::vector<protocol::OutputItem> merge_events(const std::vector<protocol::OutputItem>& events) {
    std::vector<protocol::OutputItem> merged;
    for (const auto& event : events) {
        if (event.type == "stream" && !merged.empty() && merged.back().type == "stream" &&
            merged.back().name == event.name)
            merged.back().text += event.text;
        else
            merged.push_back(event);
    }
    return merged;
}

void check_events(const std::vector<protocol::OutputItem>& events,
                  const protocol::ExecutionResult& result) {
    for (const auto& event : events)
        ci::fuzz::check(!(event.type == "stream" && event.text.empty()), "no empty stream event");
    json merged = merge_events(events);
    json outputs = result.outputs;
    // An error the kernel reported only in its execute_reply is in the result alone, last.
    if (outputs.size() == merged.size() + 1 && outputs.back().at("type") == "error")
        outputs.erase(outputs.size() - 1);
    ci::fuzz::check(merged == outputs, "the events add up to the outputs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto lines = ci::fuzz::split({reinterpret_cast<const char*>(data), size}, "\n");
    std::uint64_t limit = 0;
    std::from_chars(lines[0].data(), lines[0].data() + lines[0].size(), limit);

    ci::agent::ExecutionCollector collector(kRequest, limit);
    ci::agent::ExecutionCollector streaming(kRequest, limit, /*stream=*/true);
    std::vector<protocol::OutputItem> events;
    bool cleared = false;  // events cannot add up to outputs that a clear_output took away
    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::string_view line = lines[i];
        if (line.size() < 2) continue;
        const char channel = line[0];
        line.remove_prefix(2);
        auto space = line.find(' ');
        ci::agent::JupyterMessage message;
        message.header = {{"msg_id", "m" + std::to_string(i)}, {"msg_type", line.substr(0, space)}};
        message.parent_header = {{"msg_id", channel == 'x' ? "request-0" : kRequest}};
        if (space != std::string_view::npos) {
            // parse_wire hands over only objects.
            message.content = json::parse(line.substr(space + 1), nullptr, /*allow_exceptions=*/false);
            if (!message.content.is_object()) continue;
        }
        if (channel == 's') {
            collector.on_shell(message);
            streaming.on_shell(message);
        } else {
            collector.on_iopub(message);
            streaming.on_iopub(message);
            // Any channel but 'x' is this request's iopub (see the parent header above).
            cleared = cleared || (channel != 'x' && message.msg_type() == "clear_output");
        }
        for (auto& event : streaming.take_events()) events.push_back(std::move(event));
    }
    ci::fuzz::check(collector.complete() == streaming.complete(), "streaming completes alike");
    if (!collector.complete()) return 0;
    const protocol::ExecutionResult result = collector.take_result();
    const protocol::ExecutionResult streamed = streaming.take_result();
    if (cleared) {
        // Streamed output stays counted after a clear_output (it was sent), while the plain result
        // forgets what was cleared: the stream may be cut where the plain result is not.
        check_result(streamed, limit);
    } else {
        ci::fuzz::check(json(streamed) == json(result), "streaming leaves the result alone");
        check_events(events, result);
    }
    check_result(result, limit);
    return 0;
}
