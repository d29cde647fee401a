#include "mcp_sessions.hpp"

#include <algorithm>

#include "code_interpreter/crypto/crypto.hpp"

namespace ci::mcp {

std::optional<std::string> Sessions::open(Info info) {
    std::lock_guard lock(mu_);
    if (sessions_.size() >= max_sessions_) return std::nullopt;
    std::string id = crypto::random_hex(16);
    sessions_[id] = Entry{std::move(info), Clock::now(), {}, {}, {}};
    return id;
}

std::optional<Sessions::Info> Sessions::find(const std::string& id, const std::string& tenant) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.info.tenant != tenant) return std::nullopt;
    it->second.last_used = Clock::now();
    return it->second.info;
}

std::optional<std::string> Sessions::close(const std::string& id, const std::string& tenant) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.info.tenant != tenant) return std::nullopt;
    std::string user = std::move(it->second.info.user);
    sessions_.erase(it);
    return user;
}

std::vector<std::string> Sessions::expire(std::chrono::milliseconds idle) {
    std::vector<std::string> users;
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        // A session waiting for a long execution is not idle.
        if (it->second.calls.empty() && now - it->second.last_used > idle) {
            users.push_back(std::move(it->second.info.user));
            it = sessions_.erase(it);
        } else {
            ++it;
        }
    }
    return users;
}

void Sessions::call_started(const std::string& id, const std::string& call, bool run) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    it->second.calls.insert(call);
    if (run) it->second.runs.push_back(call);
}

bool Sessions::call_ended(const std::string& id, const std::string& call) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return false;  // closed meanwhile: nobody waits for the answer
    Entry& entry = it->second;
    entry.last_used = Clock::now();
    entry.calls.erase(call);
    if (auto run = std::find(entry.runs.begin(), entry.runs.end(), call); run != entry.runs.end()) entry.runs.erase(run);
    return entry.cancelled.erase(call) > 0;
}

bool Sessions::cancel(const std::string& id, const std::string& call) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || !it->second.calls.count(call)) return false;
    it->second.cancelled.insert(call);
    return !it->second.runs.empty() && it->second.runs.front() == call;
}

std::size_t Sessions::size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

}  // namespace ci::mcp
