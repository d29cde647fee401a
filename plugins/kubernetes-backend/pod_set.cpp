#include "pod_set.hpp"

namespace ci::kube {

using nlohmann::json;

std::string object_name(const json& object) {
    if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return {};
    const json& metadata = object["metadata"];
    return metadata.contains("name") && metadata["name"].is_string() ? metadata["name"].get<std::string>() : std::string();
}

void PodSet::replace(const json& pod_list) {
    if (!pod_list.is_object() || !pod_list.contains("items") || !pod_list["items"].is_array())
        throw WatchStreamError("a pod list has no items array");
    const WatchEvent list_metadata{WatchEvent::Type::bookmark, pod_list};
    std::map<std::string, json> pods;
    for (const json& pod : pod_list["items"]) {
        const std::string name = object_name(pod);
        if (name.empty()) throw WatchStreamError("a listed pod has no name");
        pods[name] = pod;
    }
    pods_ = std::move(pods);
    version_ = list_metadata.resource_version();
}

PodSet::Next PodSet::apply(const WatchEvent& event) {
    if (event.type == WatchEvent::Type::error) return event.expired() ? Next::relist : Next::rewatch;
    if (const std::string version = event.resource_version(); !version.empty()) version_ = version;
    if (event.type == WatchEvent::Type::bookmark) return Next::go_on;
    const std::string name = object_name(event.object);
    if (name.empty()) throw WatchStreamError("a watch event's pod has no name");
    if (event.type == WatchEvent::Type::deleted) pods_.erase(name);
    else pods_[name] = event.object;
    return Next::go_on;
}

std::optional<json> PodSet::find(const std::string& name) const {
    const auto it = pods_.find(name);
    if (it == pods_.end()) return std::nullopt;
    return it->second;
}

std::vector<std::string> PodSet::names() const {
    std::vector<std::string> out;
    for (const auto& [name, pod] : pods_) out.push_back(name);
    return out;
}

}  // namespace ci::kube
