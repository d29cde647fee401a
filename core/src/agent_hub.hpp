#pragma once
// One ZeroMQ channel per worker's agent, all served by a single I/O thread. Callers hand in a
// request and a callback; the callback runs on the I/O thread when the reply, the deadline or a
// disconnect comes, so no thread waits for an execution.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

namespace ci {

struct AgentReply {
    enum class Status {
        ok,            // body holds the agent's reply, whose "ok" was true
        agent_error,   // the agent answered "ok": false; message holds its error
        timeout,       // no answer before the deadline
        disconnected,  // the worker was disconnected (released, destroyed) before an answer
        lost,          // the agent's end of the connection went away (agent or worker died)
    };
    Status status = Status::ok;
    nlohmann::json body;
    std::string message;
};

class AgentHub {
public:
    using Clock = std::chrono::steady_clock;
    using Callback = std::function<void(AgentReply)>;
    // An agent's interim message for a request ({"id", "event"}, no "ok"): gets the "event" value.
    using EventCallback = std::function<void(const nlohmann::json& event)>;
    using LostCallback = std::function<void(const std::string& worker_id)>;

    AgentHub();
    ~AgentHub();
    AgentHub(const AgentHub&) = delete;
    AgentHub& operator=(const AgentHub&) = delete;

    void connect(const std::string& worker_id, const std::string& endpoint, const std::string& key);
    // Answers the worker's pending requests with `disconnected` and closes its channel.
    void disconnect(const std::string& worker_id, const std::string& why);
    // body gets an "id"; callback is called exactly once. on_event, when set, is called on the I/O
    // thread for each interim message before the reply, never after callback.
    void request(const std::string& worker_id, nlohmann::json body, Clock::time_point deadline, Callback callback,
                 EventCallback on_event = {});
    // Answers everything pending with `disconnected` and joins the I/O thread.
    void stop();
    // Called on the I/O thread when a connected agent's connection goes away, after its pending
    // requests were answered with `lost`.
    void set_on_lost(LostCallback callback);

private:
    struct Command;
    struct Channel;
    struct Pending {
        std::string worker_id;
        Clock::time_point deadline;
        Callback callback;
        EventCallback on_event;
    };

    void post(Command command);
    void run();
    void apply(Command& command);
    void receive(Channel& channel);
    void watch(Channel& channel);
    void expire(Clock::time_point now);
    void fail_pending(const std::string& worker_id, AgentReply::Status status, const std::string& why);
    void watch_fds(Channel& channel);
    void unwatch_fds(Channel& channel);

    zmq::context_t context_;
    int wake_fd_ = -1;   // eventfd: commands are waiting
    int epoll_fd_ = -1;  // the wake fd and every channel's ZMQ_FDs: a turn costs what is ready, not O(workers)
    std::mutex mu_;
    std::vector<Command> commands_;
    bool stopping_ = false;
    LostCallback on_lost_;

    // Owned by the I/O thread only.
    std::unordered_map<std::string, std::unique_ptr<Channel>> channels_;
    std::map<std::uint64_t, Pending> pending_;
    std::uint64_t next_id_ = 1;

    std::thread thread_;
};

}  // namespace ci
