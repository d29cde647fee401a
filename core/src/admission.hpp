#pragma once
// Fair admission of executions: at most `limit` run at once (near the core count), and sessions
// waiting for a slot get one in the order they asked. Kernels left to the OS scheduler share the
// CPU unfairly (some requests wait a second while others run at once); a short FIFO in front of
// them bounds every request's wait instead. Not thread-safe: the session manager's lock guards it.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>

namespace ci {

struct AdmissionTicket {
    std::string user;
    std::uint64_t session_id = 0;
};

class Admission {
public:
    explicit Admission(int limit) : limit_(limit) {}

    // True when the session may run now (it holds a slot until leave()); otherwise it is queued,
    // once however often it asks.
    bool enter(const AdmissionTicket& ticket);
    // Gives a slot back.
    void leave();
    // The longest-waiting session when a slot is free (it then holds the slot); nullopt otherwise.
    std::optional<AdmissionTicket> admit();

    int running() const { return running_; }
    std::size_t waiting() const { return queue_.size(); }

private:
    int limit_;
    int running_ = 0;
    std::deque<AdmissionTicket> queue_;
    std::unordered_set<std::uint64_t> queued_;  // session ids in queue_
};

}  // namespace ci
