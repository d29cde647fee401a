#pragma once
// The pods of one gateway instance as the API server last described them: a list, then a watch's
// events on top of it. It keeps the resourceVersion the next watch starts from and says when the
// watch must start over.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "watch_stream.hpp"

namespace ci::kube {

class PodSet {
public:
    // What the watcher does after an event.
    enum class Next {
        go_on,   // keep reading the stream
        rewatch, // the stream failed (an ERROR event): watch again from resource_version()
        relist,  // the version expired (410): list again, then watch from the list's version
    };

    // Everything from a list's answer (a PodList). Throws WatchStreamError when it is not one.
    void replace(const nlohmann::json& pod_list);
    Next apply(const WatchEvent& event);

    // The version the next watch starts from: the list's, then each event's and bookmark's.
    const std::string& resource_version() const { return version_; }
    std::optional<nlohmann::json> find(const std::string& name) const;
    std::vector<std::string> names() const;

private:
    std::map<std::string, nlohmann::json> pods_;
    std::string version_;
};

// metadata.name of an object ("" when absent).
std::string object_name(const nlohmann::json& object);

}  // namespace ci::kube
