#pragma once
// The pool's ready workers as a file, so a restarted gateway can find their keys and owners and
// adopt them. Written whole (temporary file + rename) on every change; it holds the agents'
// keys, so it is private to the gateway (0600).
#include <cstdint>
#include <string>
#include <vector>

namespace ci {

struct SavedWorker {
    std::string id;
    std::string key;
    bool has_volume = false;
    std::string user;                     // the session's user_uuid; "" for an idle worker
    std::int64_t session_started_ms = 0;  // Unix time the session began (0 for an idle worker)
};

class PoolStateFile {
public:
    explicit PoolStateFile(std::string path) : path_(std::move(path)) {}
    bool enabled() const { return !path_.empty(); }
    const std::string& path() const { return path_; }

    // The saved workers; none when the file is absent. Throws std::runtime_error when it exists
    // but cannot be read or is not a state file.
    std::vector<SavedWorker> load() const;
    // Throws std::runtime_error when the file cannot be written.
    void save(const std::vector<SavedWorker>& workers) const;
    void remove() const;

private:
    std::string path_;
};

// The JSON text of a state file, and back (throws std::runtime_error when text is not one).
std::string pool_state_text(const std::vector<SavedWorker>& workers);
std::vector<SavedWorker> parse_pool_state(const std::string& text);

}  // namespace ci
