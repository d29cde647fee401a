#include "code_interpreter/agent/agent.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <utility>
#include <vector>

#include <zmq_addon.hpp>

#include "code_interpreter/agent/frames.hpp"
#include "code_interpreter/agent/log.hpp"
#include "code_interpreter/agent/signals.hpp"
#include "code_interpreter/agent/workspace_files.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci::agent {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = std::chrono::seconds(60);
constexpr auto kProbeInterval = milliseconds(250);
// A shutdown_request lets an idle kernel exit cleanly; a busy one is then stopped with signals.
constexpr auto kPoliteShutdown = milliseconds(500);
constexpr auto kStopTimeout = std::chrono::seconds(3);  // SIGTERM, SIGKILL 2 s later, reaped
// Messages taken from one socket per loop turn, so a flood cannot starve signals or the others.
constexpr int kMaxMessagesPerTurn = 1000;
// Run once before the agent reports ready: a fresh kernel's first execution pays for IPython's
// compiler and display machinery (~15 ms); the worker's start pays it instead of the first user.
constexpr const char* kWarmUpCode = "1";

long long millis_since(Clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

json error_reply(const json& id, const std::string& error) {
    return {{"id", id}, {"ok", false}, {"error", error}};
}

json file_error_reply(const json& id, std::string_view kind, const std::string& error) {
    json body = file_failure(kind, error);
    body["id"] = id;
    return body;
}

// The request id to echo in a reply: the request's, or null when it has none.
json request_id(const json& body) { return body.contains("id") ? body["id"] : json(nullptr); }

struct GatewayMessage {
    std::string routing_id;
    protocol::DecodedMessage decoded;
};

// The next message waiting on the gateway socket, or nullopt when none is.
std::optional<GatewayMessage> receive_gateway(zmq::socket_t& gateway, const std::string& key) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(gateway, std::back_inserter(parts), zmq::recv_flags::dontwait))
        return std::nullopt;
    GatewayMessage message{parts.front().to_string(), {}};
    std::vector<std::string> frames;
    for (auto it = parts.begin() + 1; it != parts.end(); ++it) frames.push_back(it->to_string());
    message.decoded = protocol::decode_message(key, frames);
    return message;
}

}  // namespace

Agent::Agent(KernelProcess kernel, UniqueFd file_server, KernelClient client,
             zmq::socket_t gateway, std::string gateway_key, UniqueFd signals)
    : kernel_(std::move(kernel)),
      files_(std::move(file_server)),
      client_(std::move(client)),
      gateway_(std::move(gateway)),
      gateway_key_(std::move(gateway_key)),
      signals_(std::move(signals)) {}

int Agent::run() {
    const auto deadline = started_ + kReadyTimeout;
    auto next_probe = started_;
    for (;;) {
        int timeout = -1;  // once ready, only a message or a signal wakes the agent
        if (!ready_) {
            const auto now = Clock::now();
            if (now >= deadline)
                throw std::runtime_error("the kernel was not ready within " +
                                         std::to_string(kReadyTimeout.count()) + " s");
            if (!readiness_.ready() && now >= next_probe) {
                // Resent until answered: an early status on iopub may reach no subscriber yet.
                readiness_.on_request_sent(send_shell("kernel_info_request", json::object()));
                next_probe = now + kProbeInterval;
            }
            const auto wake = readiness_.ready() ? deadline : std::min(next_probe, deadline);
            timeout = static_cast<int>(std::chrono::ceil<milliseconds>(wake - now).count());
        }
        // Until the kernel is ready, gateway requests wait in ZeroMQ's queue (and so no file
        // request has been sent).
        const bool serving = ready_;
        if (shell_due_ || iopub_due_ || (serving && gateway_due_)) timeout = 0;
        const short file_events = static_cast<short>(POLLIN | (files_.wants_write() ? POLLOUT : 0));
        pollfd fds[] = {
            {signals_.get(), POLLIN, 0},
            {kernel_.link_fd(), POLLIN, 0},
            {shell_fd_, POLLIN, 0},
            {iopub_fd_, POLLIN, 0},
            {serving ? gateway_fd_ : -1, POLLIN, 0},  // poll ignores a negative fd
            {files_.connected() ? files_.fd() : -1, file_events, 0},
        };
        if (::poll(fds, std::size(fds), timeout) < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("poll failed: ") + std::strerror(errno));
        }
        if (fds[0].revents & POLLIN)
            if (auto exit_status = handle_signals()) return *exit_status;
        if (fds[1].revents != 0)
            if (auto exit_status = handle_kernel_end()) return *exit_status;
        shell_due_ = shell_due_ || fds[2].revents != 0;
        iopub_due_ = iopub_due_ || fds[3].revents != 0;
        gateway_due_ = gateway_due_ || fds[4].revents != 0;
        handle_kernel_messages();
        if (ready_ && gateway_due_) handle_gateway_messages();
        if (fds[5].fd >= 0 && fds[5].revents != 0) handle_file_server();
    }
}

std::optional<int> Agent::handle_signals() {
    while (auto signo = read_signal(signals_)) {
        if (*signo == SIGTERM || *signo == SIGINT) {
            log_line("stopping on signal " + std::to_string(*signo));
            return stop();
        }
    }
    // SIGCHLD (the supervisor in a worker container) is not a sign of its own: the supervisor
    // reports the kernel's end on the link first.
    return std::nullopt;
}

std::optional<int> Agent::handle_kernel_end() {
    const auto end = kernel_.try_wait();
    if (!end) return std::nullopt;
    const std::string error = "kernel died (" + describe(*end) + ")";
    log_line(error);
    fail_all(error);
    return 1;
}

void Agent::handle_kernel_messages() {
    for (int i = 0; iopub_due_ && i < kMaxMessagesPerTurn; ++i) {
        auto parsed = client_.receive_iopub();
        if (!parsed) {
            iopub_due_ = false;
            break;
        }
        if (!parsed->message) {
            log_dropped("the kernel's iopub", parsed->error);
            continue;
        }
        if (!ready_) readiness_.on_iopub(*parsed->message);
        if (running_) running_->collector.on_iopub(*parsed->message);
    }
    if (running_ && running_->request.execute.stream) send_events();
    for (int i = 0; shell_due_ && i < kMaxMessagesPerTurn; ++i) {
        auto parsed = client_.receive_shell();
        if (!parsed) {
            shell_due_ = false;
            break;
        }
        if (!parsed->message) {
            log_dropped("the kernel's shell", parsed->error);
            continue;
        }
        if (!ready_) readiness_.on_shell(*parsed->message);
        if (running_) running_->collector.on_shell(*parsed->message);
    }
    if (!ready_ && readiness_.ready() && !warming_up_) {
        // An internal request: no routing id, nobody to answer.
        warming_up_ = true;
        queue_.push_front(Request{"", nullptr, protocol::ExecuteRequest{kWarmUpCode}});  // keeps no output
        start_next_execution();
    }
    if (running_ && running_->collector.complete()) finish_execution();
}

void Agent::on_warmed_up() {
    ready_ = true;
    log_line("kernel ready after " + std::to_string(millis_since(started_)) + " ms");
}

void Agent::handle_gateway_messages() {
    for (int i = 0; i < kMaxMessagesPerTurn; ++i) {
        auto message = receive_gateway(gateway_, gateway_key_);
        if (!message) {
            gateway_due_ = false;
            return;
        }
        if (!message->decoded.body) {
            log_dropped("the gateway", message->decoded.error);
            continue;
        }
        handle_request(std::move(message->routing_id), *message->decoded.body);
    }
}

void Agent::handle_request(std::string routing_id, const json& body) {
    const json id = request_id(body);
    auto decoded = protocol::decode_request(body);
    if (auto* error = std::get_if<std::string>(&decoded)) {
        // A file request gets the file replies' shape, so the gateway can tell the kind.
        const bool file = body.value("op", json()).is_string() &&
                          body["op"].get_ref<const std::string&>().starts_with("file_");
        reply(routing_id, file ? file_error_reply(id, "invalid_request", *error) : error_reply(id, *error));
        return;
    }
    const protocol::Request& request = std::get<protocol::Request>(decoded);
    if (std::holds_alternative<protocol::PingRequest>(request)) {
        reply(routing_id, {{"id", id}, {"ok", true}, {"ready", true}});
    } else if (std::holds_alternative<protocol::InterruptRequest>(request)) {
        // ipykernel answers interrupt_request on its control thread by sending SIGINT to its
        // process group, so the running execution ends with KeyboardInterrupt.
        client_.send_control("interrupt_request", json::object());
        reply(routing_id, {{"id", id}, {"ok", true}, {"interrupted", running_.has_value()}});
    } else if (const auto* execute = std::get_if<protocol::ExecuteRequest>(&request)) {
        queue_.push_back(Request{std::move(routing_id), id, *execute});
        start_next_execution();
    } else {
        handle_file_request(std::move(routing_id), id, request);
    }
}

void Agent::handle_file_request(std::string routing_id, const json& id, const protocol::Request& request) {
    if (!files_.connected()) {
        reply(routing_id, file_error_reply(id, "io", "the file server is not running"));
        return;
    }
    // Replies come back in order: the server needs no id.
    auto frame = encode_frame(protocol::encode_request(request));
    if (!frame) {
        reply(routing_id, file_error_reply(id, "too_large",
                                           "the request is larger than the " +
                                               std::to_string(kMaxFrameBytes >> 20) +
                                               " MiB the file server accepts"));
        return;
    }
    file_requests_.push_back(FileRequest{std::move(routing_id), id});
    files_.send(*frame);
    if (!files_.connected()) fail_file_requests();
}

void Agent::handle_file_server() {
    for (const std::string& text : files_.exchange()) {
        if (file_requests_.empty()) {
            files_.disconnect("it sent a reply to no request");
            break;
        }
        FileRequest request = std::move(file_requests_.front());
        file_requests_.pop_front();
        json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
        auto ok = body.is_object() ? body.find("ok") : body.end();
        if (ok == body.end() || !ok->is_boolean()) {
            reply(request.routing_id,
                  file_error_reply(request.id, "io", "the file server sent a malformed reply"));
            continue;
        }
        body["id"] = request.id;
        reply(request.routing_id, body);
    }
    if (!files_.connected()) fail_file_requests();
}

// Called once, when the file server's socket has just been disconnected.
void Agent::fail_file_requests() {
    const std::string error = "the file server has stopped (" + files_.disconnect_reason() + ")";
    log_line(error);
    for (const FileRequest& request : file_requests_)
        reply(request.routing_id, file_error_reply(request.id, "io", error));
    file_requests_.clear();
}

void Agent::send_events() {
    for (const protocol::OutputItem& item : running_->collector.take_events())
        reply(running_->request.routing_id, {{"id", running_->request.id}, {"event", item}});
}

void Agent::start_next_execution() {
    if (running_ || queue_.empty()) return;
    Request request = std::move(queue_.front());
    queue_.pop_front();
    const auto started = Clock::now();
    std::string msg_id = send_shell(
        "execute_request", execute_request_content(request.execute.code, request.execute.store_history));
    const std::uint64_t max_output_bytes = request.execute.max_output_bytes;
    const bool stream = request.execute.stream;
    running_.emplace(Running{std::move(request),
                             ExecutionCollector(std::move(msg_id), max_output_bytes, stream),
                             started});
}

void Agent::finish_execution() {
    Running done = std::move(*running_);
    running_.reset();
    protocol::ExecutionResult result = done.collector.take_result();
    result.duration_ms = static_cast<std::uint64_t>(millis_since(done.started));
    if (done.request.routing_id.empty()) {  // the warm-up
        on_warmed_up();
        start_next_execution();
        return;
    }
    reply(done.request.routing_id, {{"id", done.request.id}, {"ok", true}, {"result", result}});
    start_next_execution();
}

void Agent::fail_all(const std::string& error) {
    if (running_) {
        reply(running_->request.routing_id, error_reply(running_->request.id, error));
        running_.reset();
    }
    for (const Request& request : queue_) reply(request.routing_id, error_reply(request.id, error));
    queue_.clear();
    for (const FileRequest& request : file_requests_)
        reply(request.routing_id, file_error_reply(request.id, "io", error));
    file_requests_.clear();
    // Requests still waiting in ZeroMQ's queue get the same answer.
    while (auto message = receive_gateway(gateway_, gateway_key_))
        if (message->decoded.body)
            reply(message->routing_id, error_reply(request_id(*message->decoded.body), error));
}

int Agent::stop() {
    fail_all("the agent is stopping");
    client_.send_control("shutdown_request", {{"restart", false}});
    auto status = kernel_.wait_for(kPoliteShutdown);
    if (!status) {
        kernel_.request_stop();
        status = kernel_.wait_for(kStopTimeout);
    }
    log_line(status ? "kernel stopped (" + describe(*status) + ")"
                    : std::string("kernel did not stop in time"));
    return 0;
}

void Agent::log_dropped(const std::string& source, const std::string& error) {
    // The user's code can write to the kernel's sockets: a flood must not flood the log.
    ++dropped_;
    if (dropped_ <= 10 || dropped_ % 1000 == 0)
        log_line("dropped a message from " + source + ": " + error + " (" +
                 std::to_string(dropped_) + " so far)");
}

void Agent::reply(const std::string& routing_id, const json& body) {
    std::vector<std::string> frames = protocol::encode_message(gateway_key_, body);
    std::vector<zmq::const_buffer> buffers{zmq::buffer(routing_id)};
    for (const auto& frame : frames) buffers.push_back(zmq::buffer(frame));
    zmq::send_multipart(gateway_, buffers);
    gateway_due_ = true;  // see the members' comment
}

std::string Agent::send_shell(std::string_view msg_type, const json& content) {
    std::string msg_id = client_.send_shell(msg_type, content);
    shell_due_ = true;
    return msg_id;
}

}  // namespace ci::agent
