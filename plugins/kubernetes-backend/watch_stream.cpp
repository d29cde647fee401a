#include "watch_stream.hpp"

namespace ci::kube {

using nlohmann::json;

std::string WatchEvent::resource_version() const {
    if (!object.is_object()) return {};
    const auto metadata = object.find("metadata");
    if (metadata == object.end() || !metadata->is_object()) return {};
    const auto version = metadata->find("resourceVersion");
    return version != metadata->end() && version->is_string() ? version->get<std::string>() : std::string();
}

bool WatchEvent::expired() const {
    if (type != Type::error || !object.is_object()) return false;
    const auto code = object.find("code");
    if (code != object.end() && code->is_number_integer() && code->get<int>() == 410) return true;
    const auto reason = object.find("reason");
    return reason != object.end() && reason->is_string() &&
           (reason->get<std::string>() == "Expired" || reason->get<std::string>() == "Gone");
}

WatchEvent parse_watch_event(std::string_view line) {
    const json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) throw WatchStreamError("a watch event is not a JSON object: " + std::string(line.substr(0, 200)));
    const auto type = event.find("type");
    const auto object = event.find("object");
    if (type == event.end() || !type->is_string() || object == event.end() || !object->is_object())
        throw WatchStreamError("a watch event needs a type and an object: " + std::string(line.substr(0, 200)));
    static const std::pair<const char*, WatchEvent::Type> kTypes[] = {
        {"ADDED", WatchEvent::Type::added},       {"MODIFIED", WatchEvent::Type::modified},
        {"DELETED", WatchEvent::Type::deleted},   {"BOOKMARK", WatchEvent::Type::bookmark},
        {"ERROR", WatchEvent::Type::error},
    };
    for (const auto& [name, value] : kTypes)
        if (type->get<std::string>() == name) return WatchEvent{value, *object};
    throw WatchStreamError("unknown watch event type " + type->get<std::string>());
}

std::vector<WatchEvent> WatchStream::feed(std::string_view chunk) {
    std::vector<WatchEvent> events;
    while (!chunk.empty()) {
        const std::size_t newline = chunk.find('\n');
        const std::string_view piece = chunk.substr(0, newline);
        if (partial_.size() + piece.size() > max_line_bytes_)
            throw WatchStreamError("a watch event is longer than " + std::to_string(max_line_bytes_) + " bytes");
        partial_.append(piece);
        if (newline == std::string_view::npos) break;
        chunk.remove_prefix(newline + 1);
        // Blank lines (keep-alives of some proxies) carry nothing.
        if (partial_.find_first_not_of(" \t\r") != std::string::npos) events.push_back(parse_watch_event(partial_));
        partial_.clear();
    }
    return events;
}

}  // namespace ci::kube
