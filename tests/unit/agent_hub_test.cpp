// The gateway's single I/O thread against fake agents (ROUTER sockets speaking the signed agent
// format over ipc): replies reach the right callback among many channels, deadlines expire, an
// agent that goes away is reported at once, and a hostile agent (one that holds the key) can
// neither crash the hub nor starve the other agents: it is reported as a protocol violation.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
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
#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci {
namespace {

using namespace std::chrono_literals;

const std::string kKey(64, 'k');

constexpr std::size_t kMaxMessageBytes = 1 << 20;

// A request the fake agent below answers with its number.
protocol::Request request_number(int n) { return protocol::ExecuteRequest{std::to_string(n)}; }

// A well-formed execute reply whose stdout is text.
nlohmann::json result_reply(const nlohmann::json& id, const std::string& text) {
    protocol::ExecutionResult result;
    result.status = "ok";
    result.outputs.push_back(protocol::OutputItem{.type = "stream", .name = "stdout", .text = text});
    return {{"id", id}, {"ok", true}, {"result", result}};
}

// The number a reply of the fake agent echoes.
int echo_of(const AgentReply& reply) {
    return std::stoi(reply.body["result"]["outputs"][0]["text"].get<std::string>());
}

std::vector<std::string> frames_of(const nlohmann::json& body) { return protocol::encode_message(kKey, body); }

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

// Answers every request with a result whose stdout is its number (the code of the execute
// request numbered n by request_number), after events_first interim stdout events "0", "1", ...
// (the streaming form). A hostile test instead takes a request and sends what it likes.
class FakeAgent {
public:
    FakeAgent(zmq::context_t& context, const std::string& endpoint) : socket_(context, zmq::socket_type::router) {
        socket_.set(zmq::sockopt::linger, 0);
        socket_.set(zmq::sockopt::sndhwm, 0);  // a flood is queued, not dropped
        socket_.bind(endpoint);
    }
    // The next request: its routing id and body.
    std::pair<std::string, nlohmann::json> take(std::chrono::milliseconds wait = 2s) {
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, wait) <= 0) return {};
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(socket_, std::back_inserter(parts), zmq::recv_flags::dontwait)) return {};
        std::vector<std::string> frames;
        for (std::size_t i = 1; i < parts.size(); ++i) frames.push_back(parts[i].to_string());
        return {parts[0].to_string(), *protocol::decode_message(kKey, frames).body};
    }
    void send(const std::string& routing_id, const nlohmann::json& body) { send_frames(routing_id, frames_of(body)); }
    void send_frames(const std::string& routing_id, std::vector<std::string> frames) {
        frames.insert(frames.begin(), routing_id);
        std::vector<zmq::const_buffer> buffers;
        for (auto& f : frames) buffers.emplace_back(f.data(), f.size());
        zmq::send_multipart(socket_, buffers);
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
            for (int k = 0; k < events_first; ++k)
                send(parts[0].to_string(),
                     {{"id", id}, {"event", protocol::OutputItem{.type = "stream", .name = "stdout", .text = std::to_string(k)}}});
            send(parts[0].to_string(), result_reply(id, (*decoded.body)["code"].get<std::string>()));
            ++answered;
        }
        return answered;
    }

    int events_first = 0;

private:
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
    AgentHub hub(kMaxMessageBytes);
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
        EXPECT_EQ(echo_of(reply), n);
    }
}

TEST_F(AgentHubTest, AnUnansweredRequestTimesOutAndADeadAgentIsReportedAtOnce) {
    auto agent = std::make_unique<FakeAgent>(context_, endpoint(0));
    AgentHub hub(kMaxMessageBytes);
    std::mutex mu;
    std::vector<std::string> lost;
    hub.set_on_lost([&](const std::string& id, AgentChannel::Loss loss) {
        EXPECT_EQ(loss, AgentChannel::Loss::gone);
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
    AgentHub hub(kMaxMessageBytes);
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
        [&](const nlohmann::json& event) { record("event " + event["text"].get<std::string>()); });
    // Without an event callback the same messages are ignored and the request still completes.
    hub.request("w0", request_number(2), AgentHub::Clock::now() + 10s, replies.callback(2));
    // The hub sends the two requests one after the other: wait for both.
    EXPECT_EQ(agent.answer(2), 2);
    auto got = replies.wait_for(2);
    ASSERT_EQ(got.size(), 2u);
    for (auto& [n, reply] : got) {
        EXPECT_EQ(reply.status, AgentReply::Status::ok);
        EXPECT_EQ(echo_of(reply), n);
    }
    std::lock_guard lock(mu);
    EXPECT_EQ(seen, (std::vector<std::string>{"event 0", "event 1", "event 2", "reply"}));
}

TEST_F(AgentHubTest, DisconnectAnswersPendingRequests) {
    FakeAgent agent(context_, endpoint(0));
    AgentHub hub(kMaxMessageBytes);
    Replies replies;
    hub.connect("w0", endpoint(0), kKey);
    hub.request("w0", request_number(1), AgentHub::Clock::now() + 30s, replies.callback(1));
    hub.disconnect("w0", "released");
    auto got = replies.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].second.status, AgentReply::Status::disconnected);
    EXPECT_EQ(got[0].second.message, "released");
}

// Records the workers reported lost, and why.
class LostWorkers {
public:
    AgentChannel::LostCallback callback() {
        return [this](const std::string& id, AgentChannel::Loss loss) {
            std::lock_guard lock(mu_);
            lost_.emplace_back(id, loss);
            cv_.notify_all();
        };
    }
    std::vector<std::pair<std::string, AgentChannel::Loss>> wait_for(std::size_t count) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, 5s, [&] { return lost_.size() >= count; });
        return lost_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::pair<std::string, AgentChannel::Loss>> lost_;
};

TEST_F(AgentHubTest, AReplyFieldOfTheWrongTypeIsAProtocolViolationNotACrash) {
    const std::vector<nlohmann::json> hostile = {
        {{"ok", false}, {"error", "refused"}, {"error_kind", 5}},
        {{"ok", "yes"}},
        {{"ok", true}},
        {{"ok", true}, {"result", {{"status", "ok"}, {"outputs", {{{"type", "stream"}, {"name", "stdout"}, {"text", 5}}}}}}},
        {{"ok", true}, {"result", {{"status", "ok"}, {"outputs", {{{"type", "error"}, {"ename", "E"}, {"evalue", ""}, {"traceback", {1}}}}}}}},
    };
    AgentHub hub(kMaxMessageBytes);
    LostWorkers lost;
    hub.set_on_lost(lost.callback());
    Replies replies;
    std::vector<std::unique_ptr<FakeAgent>> agents;
    for (std::size_t i = 0; i < hostile.size(); ++i) {
        agents.push_back(std::make_unique<FakeAgent>(context_, endpoint(static_cast<int>(i))));
        const std::string worker = "w" + std::to_string(i);
        hub.connect(worker, endpoint(static_cast<int>(i)), kKey);
        hub.request(worker, request_number(static_cast<int>(i)), AgentHub::Clock::now() + 10s,
                    replies.callback(static_cast<int>(i)));
        auto [routing, request] = agents[i]->take();
        ASSERT_FALSE(routing.empty());
        nlohmann::json body = hostile[i];
        body["id"] = request["id"];
        agents[i]->send(routing, body);
    }
    auto got = replies.wait_for(hostile.size());
    ASSERT_EQ(got.size(), hostile.size());
    for (const auto& [n, reply] : got)
        EXPECT_EQ(reply.status, AgentReply::Status::violation) << hostile[n].dump() << ": " << reply.message;
    auto reported = lost.wait_for(hostile.size());
    ASSERT_EQ(reported.size(), hostile.size());
    for (const auto& [id, loss] : reported) EXPECT_EQ(loss, AgentChannel::Loss::violation) << id;
    // The worker stays refused, and the hub still serves a well-behaved agent.
    hub.request("w0", request_number(7), AgentHub::Clock::now() + 10s, replies.callback(7));
    FakeAgent good(context_, endpoint(99));
    hub.connect("good", endpoint(99), kKey);
    hub.request("good", request_number(8), AgentHub::Clock::now() + 10s, replies.callback(8));
    EXPECT_EQ(good.answer(), 1);
    got = replies.wait_for(hostile.size() + 2);
    ASSERT_EQ(got.size(), hostile.size() + 2);
    for (std::size_t i = hostile.size(); i < got.size(); ++i) {
        if (got[i].first == 7) EXPECT_EQ(got[i].second.status, AgentReply::Status::violation);
        if (got[i].first == 8) EXPECT_EQ(got[i].second.status, AgentReply::Status::ok);
    }
}

TEST_F(AgentHubTest, ASignedMessageNestedTooDeepIsRefusedUnparsed) {
    FakeAgent agent(context_, endpoint(0));
    AgentHub hub(kMaxMessageBytes);
    Replies replies;
    hub.connect("w0", endpoint(0), kKey);
    hub.request("w0", request_number(1), AgentHub::Clock::now() + 10s, replies.callback(1));
    auto [routing, request] = agent.take();
    ASSERT_FALSE(routing.empty());
    // 200000 levels would overflow a recursive parser's stack.
    std::string text = "{\"id\":" + request["id"].dump() + ",\"ok\":true,\"x\":" + std::string(200000, '[') +
                       std::string(200000, ']') + "}";
    agent.send_frames(routing, {std::string(protocol::kWireVersion),
                                crypto::hmac_sha256_hex(kKey, {protocol::kWireVersion, text}), text});
    auto got = replies.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].second.status, AgentReply::Status::violation);
    EXPECT_NE(got[0].second.message.find("deeper"), std::string::npos) << got[0].second.message;
}

TEST_F(AgentHubTest, BadlySignedFramesAreDroppedAndPastTheThresholdEndTheWorker) {
    FakeAgent agent(context_, endpoint(0));
    AgentHub hub(kMaxMessageBytes);
    LostWorkers lost;
    hub.set_on_lost(lost.callback());
    Replies replies;
    hub.connect("w0", endpoint(0), kKey);
    hub.request("w0", request_number(1), AgentHub::Clock::now() + 10s, replies.callback(1));
    auto [routing, request] = agent.take();
    ASSERT_FALSE(routing.empty());
    auto forged = frames_of(result_reply(request["id"], "forged"));
    forged[1] = std::string(64, '0');
    // Fifteen are dropped; the real reply after them is taken.
    for (int i = 0; i < 15; ++i) agent.send_frames(routing, forged);
    agent.send(routing, result_reply(request["id"], "1"));
    auto got = replies.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].second.status, AgentReply::Status::ok);
    EXPECT_EQ(echo_of(got[0].second), 1);
    // The sixteenth ends it.
    hub.request("w0", request_number(2), AgentHub::Clock::now() + 10s, replies.callback(2));
    agent.send_frames(routing, forged);
    got = replies.wait_for(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].second.status, AgentReply::Status::violation);
    EXPECT_NE(got[1].second.message.find("failed verification"), std::string::npos) << got[1].second.message;
    EXPECT_EQ(lost.wait_for(1).size(), 1u);
}

TEST_F(AgentHubTest, AMessageForARequestNeverSentIsAViolationButALateAnswerIsNot) {
    FakeAgent agent(context_, endpoint(0));
    AgentHub hub(kMaxMessageBytes);
    Replies replies;
    hub.connect("w0", endpoint(0), kKey);
    hub.request("w0", request_number(1), AgentHub::Clock::now() + 200ms, replies.callback(1));
    auto [routing, first] = agent.take();
    ASSERT_FALSE(routing.empty());
    ASSERT_EQ(replies.wait_for(1).at(0).second.status, AgentReply::Status::timeout);
    // The answer to the request that timed out comes late: dropped quietly.
    agent.send(routing, result_reply(first["id"], "1"));
    hub.request("w0", request_number(2), AgentHub::Clock::now() + 10s, replies.callback(2));
    auto [routing2, second] = agent.take();
    ASSERT_FALSE(routing2.empty());
    agent.send(routing, result_reply(second["id"], "2"));
    auto got = replies.wait_for(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].second.status, AgentReply::Status::ok) << got[1].second.message;
    // An answer to a request id never sent is not.
    hub.request("w0", request_number(3), AgentHub::Clock::now() + 10s, replies.callback(3));
    ASSERT_FALSE(agent.take().first.empty());
    agent.send(routing, result_reply(999999, "3"));
    got = replies.wait_for(3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[2].second.status, AgentReply::Status::violation);
}

TEST_F(AgentHubTest, AFloodingAgentDoesNotStarveTheOthers) {
    constexpr int kFlood = 20000;
    FakeAgent flooder(context_, endpoint(0));
    FakeAgent other(context_, endpoint(1));
    AgentHub hub(kMaxMessageBytes);
    hub.connect("flooder", endpoint(0), kKey);
    hub.connect("other", endpoint(1), kKey);
    std::atomic<int> events{0};
    std::atomic<int> events_when_other_answered{-1};
    Replies replies;
    hub.request("flooder", request_number(1), AgentHub::Clock::now() + 30s, replies.callback(1),
                [&](const nlohmann::json&) { ++events; });
    hub.request("other", request_number(2), AgentHub::Clock::now() + 30s, [&, done = replies.callback(2)](AgentReply reply) {
        events_when_other_answered = events.load();
        done(std::move(reply));
    });
    auto [routing, request] = flooder.take();
    ASSERT_FALSE(routing.empty());
    const nlohmann::json event = {
        {"id", request["id"]}, {"event", protocol::OutputItem{.type = "stream", .name = "stdout", .text = "x"}}};
    for (int i = 0; i < kFlood; ++i) flooder.send(routing, event);
    flooder.send(routing, result_reply(request["id"], "1"));
    EXPECT_EQ(other.answer(), 1);
    auto got = replies.wait_for(2, 30s);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(events.load(), kFlood);
    // The other agent's answer was delivered while the flood was still being read.
    EXPECT_GE(events_when_other_answered.load(), 0);
    EXPECT_LT(events_when_other_answered.load(), kFlood / 2);
}

TEST_F(AgentHubTest, AMessageAboveTheSizeLimitEndsTheConnectionUnread) {
    FakeAgent agent(context_, endpoint(0));
    AgentHub hub(kMaxMessageBytes);
    LostWorkers lost;
    hub.set_on_lost(lost.callback());
    Replies replies;
    hub.connect("w0", endpoint(0), kKey);
    hub.request("w0", request_number(1), AgentHub::Clock::now() + 10s, replies.callback(1));
    auto [routing, request] = agent.take();
    ASSERT_FALSE(routing.empty());
    agent.send(routing, result_reply(request["id"], std::string(2 * kMaxMessageBytes, 'x')));
    auto got = replies.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].second.status, AgentReply::Status::lost);
    auto reported = lost.wait_for(1);
    ASSERT_EQ(reported.size(), 1u);
    EXPECT_EQ(reported[0].second, AgentChannel::Loss::gone);
}

}  // namespace
}  // namespace ci
