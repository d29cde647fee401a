#pragma once
// The agent channel over ZeroMQ: one DEALER socket per worker's agent, all served by a single I/O
// thread. The callbacks run on that thread when the reply, the deadline or a disconnect comes, so
// no thread waits for an execution.
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

#include "agent_channel.hpp"
#include "code_interpreter/fd/unique_fd.hpp"

namespace ci {

class AgentHub final : public AgentChannel {
public:
    AgentHub();
    ~AgentHub() override;
    AgentHub(const AgentHub&) = delete;
    AgentHub& operator=(const AgentHub&) = delete;

    void connect(const std::string& worker_id, const std::string& endpoint, const std::string& key) override;
    void disconnect(const std::string& worker_id, const std::string& why) override;
    using AgentChannel::request;
    void request(const std::string& worker_id, const protocol::Request& request, Clock::time_point deadline,
                 Callback callback, EventCallback on_event) override;
    void set_on_lost(LostCallback callback) override;
    // Answers everything pending with `disconnected` and joins the I/O thread.
    void stop();

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
    fd::UniqueFd wake_fd_;   // eventfd: commands are waiting
    fd::UniqueFd epoll_fd_;  // the wake fd and every channel's ZMQ_FDs: a turn costs what is ready, not O(workers)
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
