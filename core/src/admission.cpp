#include "admission.hpp"

namespace ci {

bool Admission::enter(const AdmissionTicket& ticket) {
    if (queued_.count(ticket.session_id)) return false;
    // Nobody overtakes a waiting session.
    if (running_ < limit_ && queue_.empty()) {
        ++running_;
        return true;
    }
    queue_.push_back(ticket);
    queued_.insert(ticket.session_id);
    return false;
}

void Admission::leave() {
    if (running_ > 0) --running_;
}

std::optional<AdmissionTicket> Admission::admit() {
    if (running_ >= limit_ || queue_.empty()) return std::nullopt;
    AdmissionTicket next = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(next.session_id);
    ++running_;
    return next;
}

}  // namespace ci
