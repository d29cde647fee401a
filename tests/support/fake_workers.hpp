#pragma once
// In-process stand-ins for the two things the session and pool logic talks to, so that unit tests
// drive SessionManager and WorkerPool without Docker or kernels (the real stack is covered by the
// integration tests):
// - FakeAgentChannel: records every request; pings are answered at once (a ready agent), the rest
//   when the test says; deadlines expire as the real hub's do. Callbacks run on the channel's own
//   thread, as AgentHub's run on its I/O thread, never inside request().
// - FakeBackend: "creates" workers instantly, remembers which exist, and reports the state a test
//   sets for each.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent_channel.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"

namespace ci::test {

class FakeAgentChannel final : public AgentChannel {
public:
    struct Sent {
        std::uint64_t number = 0;  // in sending order, from 1
        std::string worker_id;
        protocol::Request request;
    };

    FakeAgentChannel();
    ~FakeAgentChannel() override;
    // Joins the channel's thread, as the gateway stops its hub: callbacks not run yet are dropped.
    void stop();

    using AgentChannel::request;
    void connect(const std::string& worker_id, const std::string& endpoint, const std::string& key) override;
    void disconnect(const std::string& worker_id, const std::string& why) override;
    void request(const std::string& worker_id, const protocol::Request& request, Clock::time_point deadline,
                 Callback callback, EventCallback on_event) override;
    void set_on_lost(LostCallback callback) override;

    // Requests not answered yet, oldest first (pings never wait).
    std::vector<Sent> pending() const;
    // Waits until a request matching pred is pending; returns it (nullopt after the time limit).
    std::optional<Sent> wait_for(const std::function<bool(const Sent&)>& pred,
                                 std::chrono::milliseconds limit = std::chrono::seconds(5));
    std::optional<Sent> wait_for_execute(const std::string& code);
    // Answers a pending request (on the channel's thread).
    void answer(std::uint64_t number, AgentReply reply);
    // An execute's successful result with this stdout.
    static AgentReply result(const std::string& stdout_text, const std::string& status = "ok");
    // The agent of worker_id goes away (or breaks the protocol): its requests are answered `lost`
    // (or `violation`), then the lost callback.
    void lose(const std::string& worker_id, Loss loss = Loss::gone);
    // Whether the agent of worker_id answers pings (a worker that never becomes ready when not).
    void set_answers_pings(bool answers);
    std::set<std::string> connected() const;

private:
    struct Waiting {
        Sent sent;
        Clock::time_point deadline;
        Callback callback;
    };
    void run();
    // Queues a callback for the channel's thread; with mu_ held.
    void post_locked(std::function<void()> task);
    // Answers every waiting request of worker_id with reply; with mu_ held.
    void answer_all_locked(const std::string& worker_id, const AgentReply& reply);

    mutable std::mutex mu_;
    std::condition_variable changed_;
    std::map<std::uint64_t, Waiting> waiting_;
    std::deque<std::function<void()>> tasks_;
    std::set<std::string> connected_;
    LostCallback on_lost_;
    std::uint64_t next_ = 1;
    bool answers_pings_ = true;
    bool stopping_ = false;
    std::thread thread_;
};

class FakeBackend final : public plugin::IsolationBackend {
public:
    plugin::Result<plugin::WorkerHandle> create_worker(const plugin::WorkerSpec& spec) override;
    plugin::Status destroy_worker(const std::string& worker_id) override;
    plugin::Result<std::vector<plugin::WorkerHandle>> list_workers() override;
    plugin::Result<plugin::WorkerStatus> inspect_worker(const std::string& worker_id) override;
    plugin::Status worker_leased(const plugin::WorkerHandle& worker) override;

    // Workers that exist now, and every one ever destroyed.
    std::set<std::string> alive() const;
    std::vector<std::string> destroyed() const;
    int created() const;
    // Ids of the workers created ahead of demand (WorkerSpec::ahead_of_demand), the last spec
    // created, and the workers worker_leased was called for, in order.
    std::set<std::string> ahead_of_demand() const;
    std::set<std::string> preloading() const;  // made with a non-empty preload list
    plugin::WorkerSpec last_spec() const;
    std::vector<std::string> leased() const;
    // The state inspect_worker reports for a worker (running unless set).
    void set_state(const std::string& worker_id, plugin::WorkerState state, std::string detail = "");
    // Creations fail with this message and kind while set.
    void fail_creations(std::optional<std::string> message, plugin::FailureKind kind = plugin::FailureKind::other);
    // A worker an earlier gateway left, as list_workers reports it.
    void add_existing(const std::string& worker_id);

private:
    mutable std::mutex mu_;
    std::set<std::string> alive_;
    std::vector<std::string> destroyed_;
    std::map<std::string, plugin::WorkerStatus> states_;
    std::optional<std::string> failure_;
    plugin::FailureKind failure_kind_ = plugin::FailureKind::other;
    int created_ = 0;
    std::set<std::string> ahead_of_demand_;
    std::set<std::string> preloading_;
    plugin::WorkerSpec last_spec_;
    std::vector<std::string> leased_;
};

// Polls pred until it holds or limit passes.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = std::chrono::seconds(5));

}  // namespace ci::test
