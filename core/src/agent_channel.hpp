#pragma once
// How the gateway talks to workers' agents: a request of requests.hpp in, exactly one reply
// (or why none came) out, on the channel's own thread. AgentHub is the ZeroMQ implementation;
// tests of the session and pool logic put a fake of their own in its place.
#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "code_interpreter/protocol/requests.hpp"

namespace ci {

struct AgentReply {
    enum class Status {
        ok,            // body holds the agent's reply, whose "ok" was true
        agent_error,   // the agent answered "ok": false; message holds its error
        timeout,       // no answer before the deadline
        disconnected,  // the worker was disconnected (released, destroyed) before an answer
        lost,          // the agent's end of the connection went away (agent or worker died)
        violation,     // the agent broke the protocol (message says how): it is not trusted any more
    };
    Status status = Status::ok;
    nlohmann::json body;
    std::string message;
};

class AgentChannel {
public:
    using Clock = std::chrono::steady_clock;
    using Callback = std::function<void(AgentReply)>;
    // An agent's interim message for a request ({"id", "event"}, no "ok"): gets the "event" value.
    using EventCallback = std::function<void(const nlohmann::json& event)>;
    // Why a connected agent is of no more use: its connection went away, or it broke the protocol.
    enum class Loss { gone, violation };
    using LostCallback = std::function<void(const std::string& worker_id, Loss loss)>;

    virtual ~AgentChannel() = default;

    virtual void connect(const std::string& worker_id, const std::string& endpoint, const std::string& key) = 0;
    // Answers the worker's pending requests with `disconnected` and closes its channel.
    virtual void disconnect(const std::string& worker_id, const std::string& why) = 0;
    // callback is called exactly once. on_event, when set, is called for each interim message
    // before the reply, never after callback.
    virtual void request(const std::string& worker_id, const protocol::Request& request, Clock::time_point deadline,
                         Callback callback, EventCallback on_event) = 0;
    void request(const std::string& worker_id, const protocol::Request& request, Clock::time_point deadline,
                 Callback callback) {
        this->request(worker_id, request, deadline, std::move(callback), EventCallback{});
    }
    // Called when a connected agent's connection goes away or the agent breaks the protocol, after
    // its pending requests were answered with `lost` or `violation`; the worker must be destroyed.
    virtual void set_on_lost(LostCallback callback) = 0;
};

}  // namespace ci
