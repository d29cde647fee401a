// The gateway's single I/O thread against fake agents (ROUTER sockets speaking the signed agent
// format over ipc): replies reach the right callback among many channels, deadlines expire, and
// an agent that goes away is reported at once.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq_addon.hpp>

#include "agent_hub.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci {
namespace {

using namespace std::chrono_literals;

const std::string kKey(64, 'k');

// A request the fake agent below answers with its number.
protocol::Request request_number(int n) { return protocol::ExecuteRequest{std::to_string(n)}; }

// Collects callbacks' replies, by request number.
class Replies {
public:
    AgentHub::Callback callback(int n) {
        return [this, n](AgentReply reply) {
            std::lock_guard lock(mu_);
            got_.emplace_back(n, std::move(reply));
            cv_.notify_all();
        };
    }
    std::vector<std::pair<int, AgentReply>> wait_for(std::size_t count, std::chrono::milliseconds limit = 5s) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, limit, [&] { return got_.size() >= count; });
        return got_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::pair<int, AgentReply>> got_;
};

// Answers every request with {"echo": <its number>} (the code of the execute request numbered n
// by request_number) until destroyed, after events_first interim
// messages {"event": {"k": 0..}} (the streaming form).
class FakeAgent {
public:
    FakeAgent(zmq::context_t& context, const std::string& endpoint) : socket_(context, zmq::socket_type::router) {
        socket_.set(zmq::sockopt::linger, 0);
        socket_.bind(endpoint);
    }
    // Answers requests until `expected` were answered (each waited for up to `wait`), then those
    // already waiting; returns how many.
    int answer(int expected = 1, std::chrono::milliseconds wait = 2s) {
        int answered = 0;
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        while (zmq::poll(&item, 1, answered < expected ? wait : 0ms) > 0) {
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(socket_, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
            std::vector<std::string> frames;
            for (std::size_t i = 1; i < parts.size(); ++i) frames.push_back(parts[i].to_string());
            auto decoded = protocol::decode_message(kKey, frames);
            if (!decoded.body) continue;
            const auto& id = (*decoded.body)["id"];
            for (int k = 0; k < events_first; ++k) send(parts[0].to_string(), {{"id", id}, {"event", {{"k", k}}}});
            send(parts[0].to_string(),
                 {{"id", id}, {"ok", true}, {"echo", std::stoi((*decoded.body)["code"].get<std::string>())}});
            ++answered;
        }
        return answered;
    }

    int events_first = 0;

private:
    void send(const std::string& routing_id, const nlohmann::json& body) {
        std::vector<std::string> out = {routing_id};
        for (auto& f : protocol::encode_message(kKey, body)) out.push_back(f);
        std::vector<zmq::const_buffer> buffers;
        for (auto& f : out) buffers.emplace_back(f.data(), f.size());
        zmq::send_multipart(socket_, buffers);
    }

    zmq::socket_t socket_;
};

class AgentHubTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("ci-hub-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string endpoint(int i) const { return "ipc://" + (dir_ / ("a" + std::to_string(i))).string(); }

    std::filesystem::path dir_;
    zmq::context_t context_;
};

TEST_F(AgentHubTest, RepliesReachTheirCallbacksAcrossManyChannels) {
    constexpr int kAgents = 40;
    std::vector<std::unique_ptr<FakeAgent>> agents;
    AgentHub hub;
    Replies replies;
    for (int i = 0; i < kAgents; ++i) {
        agents.push_back(std::make_unique<FakeAgent>(context_, endpoint(i)));
        hub.connect("w" + std::to_string(i), endpoint(i), kKey);
    }
    // Two rounds, so requests also go out on channels that already carried a reply.
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < kAgents; ++i)
            hub.request("w" + std::to_string(i), request_number(round * kAgents + i), AgentHub::Clock::now() + 10s,
                        replies.callback(round * kAgents + i));
        for (auto& agent : agents) EXPECT_EQ(agent->answer(), 1);
    }
    auto got = replies.wait_for(2 * kAgents);
    ASSERT_EQ(got.size(), 2u * kAgents);
    for (auto& [n, reply] : got) {
        EXPECT_EQ(reply.status, AgentReply::Status::ok) << reply.message;
        EXPECT_EQ(reply.body["echo"], n);
    }
}

TEST_F(AgentHubTest, AnUnansweredRequestTimesOutAndADeadAgentIsReportedAtOnce) {
    auto agent = std::make_unique<FakeAgent>(context_, endpoint(0));
    AgentHub hub;
    std::mutex mu;
    std::vector<std::string> lost;
    hub.set_on_lost([&](const std::string& id) {
        std::lock_guard lock(mu);
        lost.push_back(id);
    });
    hub.connect("w0", endpoint(0), kKey);
    Replies replies;
    hub.request("w0", request_number(1), AgentHub::Clock::now() + 300ms, replies.callback(1));
    auto got = replies.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].second.status, AgentReply::Status::timeout);

    hub.request("w0", request_number(2), AgentHub::Clock::now() + 30s, replies.callback(2));
    auto started = std::chrono::steady_clock::now();
    agent.reset();  // the agent's end closes
    got = replies.wait_for(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].second.status, AgentReply::Status::lost);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    // on_lost runs right after the pending requests were answered.
    for (int i = 0; i < 100; ++i) {
        {
            std::lock_guard lock(mu);
            if (!lost.empty()) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    std::lock_guard lock(mu);
    EXPECT_EQ(lost, std::vector<std::string>{"w0"});
}

TEST_F(AgentHubTest, InterimEventsReachTheirRequestBeforeItsReply) {
    FakeAgent agent(context_, endpoint(0));
    agent.events_first = 3;
    AgentHub hub;
    hub.connect("w0", endpoint(0), kKey);
    std::mutex mu;
    std::vector<std::string> seen;  // events and the reply, in the order the I/O thread gave them
    Replies replies;
    auto record = [&](std::string what) {
        std::lock_guard lock(mu);
        seen.push_back(std::move(what));
    };
    hub.request(
        "w0", request_number(1), AgentHub::Clock::now() + 10s,
        [&, done = replies.callback(1)](AgentReply reply) {
            record("reply");
            done(std::move(reply));
        },
        [&](const nlohmann::json& event) { record("event " + event["k"].dump()); });
    // Without an event callback the same messages are ignored and the request still completes.
    hub.request("w0", request_number(2), AgentHub::Clock::now() + 10s, replies.callback(2));
    // The hub sends the two requests one after the other: wait for both.
    EXPECT_EQ(agent.answer(2), 2);
    auto got = replies.wait_for(2);
    ASSERT_EQ(got.size(), 2u);
    for (auto& [n, reply] : got) {
        EXPECT_EQ(reply.status, AgentReply::Status::ok);
        EXPECT_EQ(reply.body["echo"], n);
    }
    std::lock_guard lock(mu);
    EXPECT_EQ(seen, (std::vector<std::string>{"event 0", "event 1", "event 2", "reply"}));
}

TEST_F(AgentHubTest, DisconnectAnswersPendingRequests) {
    FakeAgent agent(context_, endpoint(0));
    AgentHub hub;
    Replies replies;
    hub.connect("w0", endpoint(0), kKey);
    hub.request("w0", request_number(1), AgentHub::Clock::now() + 30s, replies.callback(1));
    hub.disconnect("w0", "released");
    auto got = replies.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].second.status, AgentReply::Status::disconnected);
    EXPECT_EQ(got[0].second.message, "released");
}

}  // namespace
}  // namespace ci
