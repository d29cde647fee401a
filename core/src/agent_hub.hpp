#pragma once
// The agent channel over ZeroMQ: one DEALER socket per worker's agent, all served by a single I/O
// thread. The callbacks run on that thread when the reply, the deadline or a disconnect comes, so
// no thread waits for an execution.
//
// An agent shares its worker with user code, so whatever it sends is checked before use
// (replies.hpp): a message larger than max_message_bytes ends the connection (ZeroMQ refuses it
// unread), one that fails verification is dropped and counted, and a verified message that is
// malformed, answers a request never sent, or comes after too many bad ones is a protocol
// violation that ends the worker. Each socket yields a bounded number of messages per turn, so a
// flooding agent cannot starve the others.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "code_interpreter/protocol/curve.hpp"

#include "agent_channel.hpp"
#include "code_interpreter/fd/unique_fd.hpp"

namespace ci {

class AgentHub final : public AgentChannel {
public:
    explicit AgentHub(std::size_t max_message_bytes);
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
        std::string_view op;  // op_name of the request: says what its reply must hold
        Clock::time_point deadline;
        Callback callback;
        EventCallback on_event;
    };

    void post(Command command);
    void run();
    void apply(Command& command);
    void receive(Channel& channel);
    void handle(Channel& channel, const std::vector<std::string>& frames);
    void bad_frame(Channel& channel, const std::string& why);
    void violation(Channel& channel, const std::string& why);
    void answer(const std::string& worker_id, Callback& callback, AgentReply reply);
    void lose(Channel& channel, AgentReply::Status status, Loss loss, const std::string& why);
    void watch(Channel& channel);
    void expire(Clock::time_point now);
    void fail_pending(const std::string& worker_id, AgentReply::Status status, const std::string& why);
    void watch_fds(Channel& channel);
    void unwatch_fds(Channel& channel);

    const std::size_t max_message_bytes_;
    zmq::context_t context_;
    // The gateway's CurveZMQ key pair for agents reached over TCP (protocol/curve.hpp).
    const protocol::CurveKeyPair curve_keys_ = protocol::curve_client_keys();
    fd::UniqueFd wake_fd_;   // eventfd: commands are waiting
    fd::UniqueFd epoll_fd_;  // the wake fd and every channel's ZMQ_FDs: a turn costs what is ready, not O(workers)
    std::mutex mu_;
    std::vector<Command> commands_;
    bool stopping_ = false;
    LostCallback on_lost_;

    // Owned by the I/O thread only.
    std::unordered_map<std::string, std::unique_ptr<Channel>> channels_;
    std::map<std::uint64_t, Pending> pending_;
    std::set<std::string> backlog_;  // channels that had more messages than one turn takes
    std::uint64_t next_id_ = 1;

    std::thread thread_;
};

}  // namespace ci
