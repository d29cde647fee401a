#pragma once
// The body of a Kubernetes watch (GET .../pods?watch=1): newline-delimited JSON events, arriving in
// chunks cut anywhere. An expired resourceVersion comes as an ERROR event whose Status has code 410
// inside a 200 answer: the caller lists again and watches from the list's version.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::kube {

struct WatchEvent {
    enum class Type { added, modified, deleted, bookmark, error };
    Type type = Type::error;
    nlohmann::json object;  // the pod; for a bookmark only its metadata; for an error a Status

    // object.metadata.resourceVersion ("" when absent).
    std::string resource_version() const;
    // An ERROR event saying the watch's resourceVersion is too old (410 Gone / reason Expired).
    bool expired() const;
};

// A line that is not a watch event, or longer than the limit: the stream cannot be trusted further.
struct WatchStreamError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class WatchStream {
public:
    // A pod object is a few KiB; the bound keeps a broken or hostile server from growing the buffer.
    explicit WatchStream(std::size_t max_line_bytes = 4 << 20) : max_line_bytes_(max_line_bytes) {}

    // Takes the next bytes of the body; returns the events they complete, in order. Throws
    // WatchStreamError on a malformed event.
    std::vector<WatchEvent> feed(std::string_view chunk);
    // Bytes of an event not complete yet (the body must end with none when the server ends it).
    std::size_t pending() const { return partial_.size(); }

private:
    std::size_t max_line_bytes_;
    std::string partial_;
};

// One event line (without its newline), for feed and for tests.
WatchEvent parse_watch_event(std::string_view line);

}  // namespace ci::kube
