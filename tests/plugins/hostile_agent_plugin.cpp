// An isolation plugin whose "workers" are agents taken over by an attacker: each is a thread in
// the gateway's own process with a ROUTER socket on an ipc path, holding the worker's real key and
// speaking the signed protocol. It answers pings and plain executions as an agent does; an
// execution whose code names an attack (below) gets that attack instead of an answer. The security
// suite (tests/security/hostile_agent_test.cpp) runs the real gateway against it.
//
// Attacks, by the code of the execution:
//   wrong_type       a failure whose error_kind is a number
//   wrong_result     an answer whose result has status 5 and outputs "x"
//   deep_json        a body nested 100000 levels deep
//   huge_frame       a 200 MB frame
//   bad_signatures   10000 frames signed with another key
//   unsolicited      answers for ids the gateway never sent, then nothing
//   event_flood      a million well-signed events for the request, as fast as the socket takes them
// Settings: dir, where the sockets go (default /tmp/ci-hostile-agents).
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/plugin/export.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"

namespace {

using namespace ci::plugin;
using nlohmann::json;
namespace protocol = ci::protocol;

// Signed frames for a body given as text (the attacker writes what it likes).
std::vector<std::string> frames_of_text(const std::string& key, const std::string& body) {
    return {std::string(protocol::kWireVersion), ci::crypto::hmac_sha256_hex(key, {protocol::kWireVersion, body}),
            body};
}

class HostileAgent {
public:
    HostileAgent(zmq::context_t& context, std::string endpoint, std::string key)
        : socket_(context, zmq::socket_type::router), key_(std::move(key)) {
        // Not 0: libzmq 4.3.4 aborts (session_base.cpp, clean_pipes) when a socket closed with
        // linger 0 loses its peer in the middle of a multipart send, which a flood here invites:
        // the gateway disconnects as this socket closes. With a linger the pipe stays readable.
        socket_.set(zmq::sockopt::linger, 2000);
        socket_.set(zmq::sockopt::sndhwm, 0);
        socket_.set(zmq::sockopt::rcvtimeo, 100);
        socket_.bind(endpoint);
        thread_ = std::thread([this] { run(); });
    }
    ~HostileAgent() {
        stop_ = true;
        thread_.join();
    }

private:
    void run() {
        while (!stop_) {
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(socket_, std::back_inserter(parts))) continue;
            if (parts.size() != 4) continue;
            routing_ = parts[0].to_string();
            auto decoded = protocol::decode_message(key_, {parts[1].to_string(), parts[2].to_string(),
                                                           parts[3].to_string()});
            if (!decoded.body) continue;
            const json& request = *decoded.body;
            const auto id = request.value("id", json());
            const auto op = request.value("op", std::string());
            if (op == "ping") send({{"id", id}, {"ok", true}, {"ready", true}});
            else if (op == "execute") execute(id, request.value("code", std::string()));
            else if (op == "interrupt") send({{"id", id}, {"ok", true}, {"interrupted", false}});
            else send({{"id", id}, {"ok", false}, {"error", "no files here"}, {"error_kind", "io"}});
        }
    }

    void execute(const json& id, const std::string& code) {
        if (code == "wrong_type") {
            send({{"id", id}, {"ok", false}, {"error", "x"}, {"error_kind", 5}});
        } else if (code == "wrong_result") {
            send({{"id", id}, {"ok", true}, {"result", {{"status", 5}, {"outputs", "x"}}}});
        } else if (code == "deep_json") {
            send_text("{\"id\": " + id.dump() + ", \"ok\": true, \"result\": " + std::string(100000, '[') +
                      std::string(100000, ']') + "}");
        } else if (code == "huge_frame") {
            send_text("{\"id\": " + id.dump() + ", \"ok\": true, \"pad\": \"" + std::string(200 << 20, 'x') + "\"}");
        } else if (code == "bad_signatures") {
            const std::string body = json{{"id", id}, {"ok", true}}.dump();
            for (int i = 0; i < 10000 && !stop_; ++i)
                send_frames({std::string(protocol::kWireVersion), ci::crypto::hmac_sha256_hex("wrong", {body}), body});
        } else if (code == "unsolicited") {
            for (std::uint64_t never = 1u << 30; never < (1u << 30) + 100; ++never)
                send({{"id", never}, {"ok", true}, {"interrupted", false}});
        } else if (code == "event_flood") {
            const auto frames = protocol::encode_message(
                key_, {{"id", id}, {"event", {{"type", "stream"}, {"name", "stdout"}, {"text", "x"}}}});
            for (int i = 0; i < 1000000 && !stop_; ++i) send_frames(frames);
        } else {
            protocol::ExecutionResult result;
            result.status = "ok";
            result.outputs.push_back(protocol::OutputItem{.type = "stream", .name = "stdout", .text = code});
            send({{"id", id}, {"ok", true}, {"result", result}});
        }
    }

    void send(const json& body) { send_frames(protocol::encode_message(key_, body)); }
    void send_text(const std::string& body) { send_frames(frames_of_text(key_, body)); }
    void send_frames(const std::vector<std::string>& frames) {
        std::vector<zmq::const_buffer> parts{zmq::buffer(routing_)};
        for (const auto& frame : frames) parts.push_back(zmq::buffer(frame));
        try {
            zmq::send_multipart(socket_, parts);
        } catch (const zmq::error_t&) {
            // the gateway hung up: the attack is over
        }
    }

    zmq::socket_t socket_;
    const std::string key_;
    std::string routing_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

class HostileIsolation final : public IsolationBackend {
public:
    explicit HostileIsolation(std::filesystem::path dir) : dir_(std::move(dir)) {
        std::filesystem::create_directories(dir_);
    }

    Result<WorkerHandle> create_worker(const WorkerSpec& spec) override {
        const std::string endpoint = "ipc://" + (dir_ / (spec.worker_id + ".sock")).string();
        std::lock_guard lock(mu_);
        agents_[spec.worker_id] = std::make_unique<HostileAgent>(context_, endpoint, spec.agent_key);
        return Result<WorkerHandle>::success(WorkerHandle{spec.worker_id, spec.worker_id, endpoint, ""});
    }
    Status destroy_worker(const std::string& worker_id) override {
        std::unique_ptr<HostileAgent> gone;
        {
            std::lock_guard lock(mu_);
            auto it = agents_.find(worker_id);
            if (it == agents_.end()) return Status::success();
            gone = std::move(it->second);
            agents_.erase(it);
        }
        gone.reset();
        std::filesystem::remove(dir_ / (worker_id + ".sock"));
        return Status::success();
    }
    Result<std::vector<WorkerHandle>> list_workers() override { return Result<std::vector<WorkerHandle>>::success({}); }
    Result<WorkerStatus> inspect_worker(const std::string& worker_id) override {
        std::lock_guard lock(mu_);
        if (agents_.count(worker_id)) return Result<WorkerStatus>::success(WorkerStatus{WorkerState::running, 0, ""});
        return Result<WorkerStatus>::success(WorkerStatus{WorkerState::missing, 0, "no such worker"});
    }

private:
    const std::filesystem::path dir_;
    zmq::context_t context_;
    std::mutex mu_;
    std::map<std::string, std::unique_ptr<HostileAgent>> agents_;
};

PluginInfo info() { return {kAbiVersion, PluginKind::isolation, "hostile-agent", "0"}; }
std::unique_ptr<IsolationBackend> create(const PluginContext& context) {
    return std::make_unique<HostileIsolation>(context.settings().text("dir", "/tmp/ci-hostile-agents"));
}

}  // namespace

CI_PLUGIN_EXPORT_INFO(info)
CI_PLUGIN_EXPORT_ISOLATION(create)
