#pragma once
// The MCP sessions of /mcp: each is one sandbox session (a session key of session_manager.hpp),
// made at initialize and ended by DELETE or by idling past the sandbox sessions' idle timeout.
// Thread-safe: the HTTP threads and the agent channel's thread (tool calls ending) use it.
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ci::mcp {

class Sessions {
public:
    using Clock = std::chrono::steady_clock;
    struct Info {
        std::string tenant;   // the caller's tenant at initialize: other tenants cannot use the session
        std::string user;     // the sandbox session key
        std::string version;  // the negotiated protocol version
    };
    explicit Sessions(std::size_t max_sessions) : max_sessions_(max_sessions) {}

    // A new session's id (128 random bits, hex), or nullopt when max_sessions are open.
    std::optional<std::string> open(Info info);
    // The session, touched; nullopt when unknown or of another tenant.
    std::optional<Info> find(const std::string& id, const std::string& tenant);
    // Removes the session; its sandbox session key, or nullopt when unknown or of another tenant.
    std::optional<std::string> close(const std::string& id, const std::string& tenant);
    // Removes sessions unused for longer than idle; their sandbox session keys.
    std::vector<std::string> expire(std::chrono::milliseconds idle);

    // A tools/call in flight; call is mcp::id_key of its request id. run_python calls are kept in
    // the order sent: the sandbox runs a session's executions in that order, so the first is the
    // running one.
    void call_started(const std::string& id, const std::string& call, bool run);
    // A call ended: true when it was cancelled (its answer is not sent).
    bool call_ended(const std::string& id, const std::string& call);
    // notifications/cancelled: marks the call; true when it is the running execution, which the
    // caller interrupts (a queued one still runs, its answer dropped).
    bool cancel(const std::string& id, const std::string& call);

    std::size_t size() const;

private:
    struct Entry {
        Info info;
        Clock::time_point last_used;
        std::set<std::string> calls;
        std::deque<std::string> runs;
        std::set<std::string> cancelled;
    };
    const std::size_t max_sessions_;
    mutable std::mutex mu_;
    std::map<std::string, Entry> sessions_;
};

}  // namespace ci::mcp
