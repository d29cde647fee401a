#include "agent_hub.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <zmq_addon.hpp>

#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/replies.hpp"
#include "log.hpp"

namespace ci {
namespace {

// Messages taken from one socket per turn: a flooding agent waits its turn like the others.
constexpr int kMaxMessagesPerTurn = 64;
// Messages that fail verification before the agent counts as broken (a real agent sends none);
// the first few are logged, so a flood cannot flood the log.
constexpr int kMaxBadFrames = 16;
constexpr int kLoggedBadFrames = 3;
// Whose late answer is expected, per worker (request ids grow, so the oldest go first).
constexpr std::size_t kMaxExpiredIds = 1024;
// Messages ZeroMQ holds for the hub per worker before it stops reading that worker's socket: with
// max_message_bytes, the bound on what one worker can make the gateway hold.
constexpr int kReceiveQueueMessages = 8;

// The hub's thread must survive whatever a callback does: the gateway's other workers need it.
template <class F>
void guarded(const std::string& worker_id, const char* what, F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        log_error("worker " + worker_id + ": " + what + " failed: " + e.what());
    } catch (...) {
        log_error("worker " + worker_id + ": " + what + " failed");
    }
}

}  // namespace

struct AgentHub::Command {
    enum class Kind { connect, disconnect, request, stop } kind;
    std::string worker_id;
    std::string endpoint_or_reason;
    std::string key;
    nlohmann::json body;
    std::string_view op;
    Clock::time_point deadline;
    Callback callback;
    EventCallback on_event;
};

// A worker's DEALER socket and a PAIR socket receiving its monitor events, which tell when the
// agent's end connects and when it goes away.
struct AgentHub::Channel {
    // What an epoll event of this channel's points at: its socket or its monitor.
    struct Tag {
        Channel* channel;
        bool monitor;
    };
    std::string worker_id;
    std::string key;
    zmq::socket_t socket;
    zmq::socket_t monitor;
    bool connected = false;
    bool lost = false;                     // gone or broke the protocol: answers nothing more
    std::optional<std::string> violation;  // how it broke the protocol
    int bad_frames = 0;
    std::set<std::uint64_t> expired;       // requests that timed out: a late answer is no violation
    Tag socket_tag{this, false};
    Tag monitor_tag{this, true};

    ~Channel() {
        if (socket) zmq_socket_monitor(socket.handle(), nullptr, 0);
    }
};

AgentHub::AgentHub(std::size_t max_message_bytes)
    : max_message_bytes_(max_message_bytes),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!wake_fd_) throw std::runtime_error("eventfd failed");
    if (!epoll_fd_) throw std::runtime_error("epoll_create1 failed");
    epoll_event wake{};
    wake.events = EPOLLIN;
    wake.data.ptr = nullptr;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &wake) != 0)
        throw std::runtime_error("epoll_ctl failed");
    thread_ = std::thread([this] { run(); });
}

AgentHub::~AgentHub() { stop(); }

void AgentHub::post(Command command) {
    {
        std::unique_lock lock(mu_);
        if (stopping_) {
            lock.unlock();
            if (command.callback)
                command.callback({AgentReply::Status::disconnected, {}, "the gateway is stopping"});
            return;
        }
        commands_.push_back(std::move(command));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

void AgentHub::connect(const std::string& worker_id, const std::string& endpoint, const std::string& key) {
    post(Command{Command::Kind::connect, worker_id, endpoint, key, {}, {}, {}, {}, {}});
}

void AgentHub::disconnect(const std::string& worker_id, const std::string& why) {
    post(Command{Command::Kind::disconnect, worker_id, why, {}, {}, {}, {}, {}, {}});
}

void AgentHub::request(const std::string& worker_id, const protocol::Request& request, Clock::time_point deadline,
                       Callback callback, EventCallback on_event) {
    post(Command{Command::Kind::request, worker_id, {}, {}, protocol::encode_request(request),
                 protocol::op_name(request), deadline, std::move(callback), std::move(on_event)});
}

void AgentHub::set_on_lost(LostCallback callback) {
    std::lock_guard lock(mu_);
    on_lost_ = std::move(callback);
}

void AgentHub::stop() {
    {
        std::lock_guard lock(mu_);
        if (!thread_.joinable()) return;
    }
    post(Command{Command::Kind::stop, {}, {}, {}, {}, {}, {}, {}, {}});
    thread_.join();
}

void AgentHub::run() {
    for (;;) {
        std::vector<Command> batch;
        {
            std::lock_guard lock(mu_);
            batch.swap(commands_);
        }
        for (auto& command : batch) {
            if (command.kind == Command::Kind::stop) {
                std::vector<std::string> ids;
                for (auto& [id, ch] : channels_) ids.push_back(id);
                for (auto& id : ids) {
                    fail_pending(id, AgentReply::Status::disconnected, "the gateway is stopping");
                    unwatch_fds(*channels_[id]);
                    channels_.erase(id);
                }
                {
                    std::lock_guard lock(mu_);
                    stopping_ = true;
                    // Requests posted after stop are answered right away.
                    for (auto& late : commands_)
                        if (late.callback)
                            answer(late.worker_id, late.callback,
                                   {AgentReply::Status::disconnected, {}, "the gateway is stopping"});
                    commands_.clear();
                }
                return;
            }
            apply(command);
        }

        auto now = Clock::now();
        auto timeout = std::chrono::milliseconds(backlog_.empty() ? 1000 : 0);
        for (auto& [id, p] : pending_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(p.deadline - now);
            timeout = std::clamp(left + std::chrono::milliseconds(1), std::chrono::milliseconds(0), timeout);
        }
        epoll_event events[64];
        int ready = ::epoll_wait(epoll_fd_.get(), events, 64, static_cast<int>(timeout.count()));
        // Callbacks run from here may post commands; those are applied on the next turn, so no
        // channel goes away while this batch is handled.
        for (int i = 0; i < ready; ++i) {
            auto* tag = static_cast<Channel::Tag*>(events[i].data.ptr);
            if (!tag) {
                std::uint64_t count;
                [[maybe_unused]] auto n = ::read(wake_fd_.get(), &count, sizeof count);
            } else if (tag->monitor) {
                watch(*tag->channel);
            } else {
                receive(*tag->channel);
            }
        }
        for (const auto& id : std::exchange(backlog_, {}))
            if (auto it = channels_.find(id); it != channels_.end()) receive(*it->second);
        expire(Clock::now());
    }
}

void AgentHub::apply(Command& command) {
    switch (command.kind) {
        case Command::Kind::connect: {
            auto channel = std::make_unique<Channel>();
            channel->worker_id = command.worker_id;
            channel->key = command.key;
            channel->socket = zmq::socket_t(context_, zmq::socket_type::dealer);
            channel->socket.set(zmq::sockopt::linger, 0);
            channel->socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(max_message_bytes_));
            channel->socket.set(zmq::sockopt::rcvhwm, kReceiveQueueMessages);
            // The agent binds only once its kernel is ready: retry the connect quickly.
            channel->socket.set(zmq::sockopt::reconnect_ivl, 20);
            channel->socket.set(zmq::sockopt::reconnect_ivl_max, 200);
            if (protocol::encrypted_endpoint(command.endpoint_or_reason)) {
                channel->socket.set(zmq::sockopt::curve_serverkey,
                                    protocol::curve_server_keys(command.key).public_key);
                channel->socket.set(zmq::sockopt::curve_publickey, curve_keys_.public_key);
                channel->socket.set(zmq::sockopt::curve_secretkey, curve_keys_.secret_key);
            }
            std::string monitor_address = "inproc://ci-agent-monitor-" + command.worker_id;
            if (zmq_socket_monitor(channel->socket.handle(), monitor_address.c_str(),
                                   ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0)
                throw zmq::error_t();
            channel->monitor = zmq::socket_t(context_, zmq::socket_type::pair);
            channel->monitor.set(zmq::sockopt::linger, 0);
            channel->monitor.connect(monitor_address);
            channel->socket.connect(command.endpoint_or_reason);
            watch_fds(*channel);
            // A new pipe signals its ZMQ_FD only once its reader has found it empty: read once now.
            watch(*channel);
            receive(*channel);
            channels_[command.worker_id] = std::move(channel);
            break;
        }
        case Command::Kind::disconnect: {
            fail_pending(command.worker_id, AgentReply::Status::disconnected, command.endpoint_or_reason);
            auto it = channels_.find(command.worker_id);
            if (it == channels_.end()) break;
            unwatch_fds(*it->second);
            channels_.erase(it);
            break;
        }
        case Command::Kind::request: {
            auto it = channels_.find(command.worker_id);
            if (it == channels_.end()) {
                answer(command.worker_id, command.callback, {AgentReply::Status::disconnected, {}, "worker is not connected"});
                break;
            }
            if (const auto& violation = it->second->violation) {
                answer(command.worker_id, command.callback,
                       {AgentReply::Status::violation, {}, "the worker's agent broke the protocol: " + *violation});
                break;
            }
            if (it->second->lost) {
                answer(command.worker_id, command.callback,
                       {AgentReply::Status::lost, {}, "the connection to the worker's agent was lost"});
                break;
            }
            std::uint64_t id = next_id_++;
            command.body["id"] = id;
            auto frames = protocol::encode_message(it->second->key, command.body);
            std::vector<zmq::const_buffer> buffers;
            for (auto& f : frames) buffers.emplace_back(f.data(), f.size());
            if (!zmq::send_multipart(it->second->socket, buffers, zmq::send_flags::dontwait)) {
                answer(command.worker_id, command.callback,
                       {AgentReply::Status::disconnected, {}, "the worker's channel is full"});
                break;
            }
            pending_.emplace(id, Pending{command.worker_id, command.op, command.deadline, std::move(command.callback),
                                         std::move(command.on_event)});
            // Sending may have consumed the wake-up of the socket's ZMQ_FD: look for input now.
            receive(*it->second);
            break;
        }
        case Command::Kind::stop:
            break;
    }
}

// A ZMQ_FD is readable when the socket *may* have news, and reading it is left to libzmq:
// each handler drains its socket until it would block, which also resets that signal.
void AgentHub::watch_fds(Channel& channel) {
    for (auto* tag : {&channel.socket_tag, &channel.monitor_tag}) {
        zmq::socket_t& socket = tag->monitor ? channel.monitor : channel.socket;
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = tag;
        if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, socket.get(zmq::sockopt::fd), &event) != 0)
            throw std::runtime_error("epoll_ctl failed for worker " + channel.worker_id);
    }
}

void AgentHub::unwatch_fds(Channel& channel) {
    for (zmq::socket_t* socket : {&channel.socket, &channel.monitor})
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, socket->get(zmq::sockopt::fd), nullptr);
}

void AgentHub::receive(Channel& channel) {
    for (int taken = 0; !channel.lost; ++taken) {
        if (taken == kMaxMessagesPerTurn) {
            // Its ZMQ_FD will not signal what is already queued: come back next turn.
            backlog_.insert(channel.worker_id);
            return;
        }
        std::vector<std::string> frames;
        try {
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(channel.socket, std::back_inserter(parts), zmq::recv_flags::dontwait)) return;
            for (auto& p : parts) frames.push_back(p.to_string());
        } catch (const zmq::error_t& e) {
            log_error("worker " + channel.worker_id + ": receiving failed: " + e.what());
            return;
        }
        guarded(channel.worker_id, "handling a message", [&] { handle(channel, frames); });
    }
}

void AgentHub::handle(Channel& channel, const std::vector<std::string>& frames) {
    auto decoded = protocol::decode_message(channel.key, frames);
    if (!decoded.body) {
        if (decoded.signed_by_key) return violation(channel, "a signed message: " + decoded.error);
        return bad_frame(channel, decoded.error);
    }
    auto& body = *decoded.body;
    auto id_it = body.find("id");
    if (id_it == body.end() || !id_it->is_number_unsigned())
        return violation(channel, "a message without a numeric \"id\"");
    const auto id = id_it->get<std::uint64_t>();
    const bool final = body.contains("ok");
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.worker_id != channel.worker_id) {
        // What a request that timed out still produces comes late, but is no attack.
        if (channel.expired.count(id)) {
            if (final) channel.expired.erase(id);
            return;
        }
        return violation(channel, "a message for request " + std::to_string(id) + ", which it was not sent or has answered");
    }
    if (!final) {
        auto event = body.find("event");
        if (event == body.end()) return violation(channel, "a message with neither \"ok\" nor \"event\"");
        if (auto defect = protocol::output_defect(*event)) return violation(channel, "an output event: " + *defect);
        if (it->second.on_event)
            guarded(channel.worker_id, "an output event's callback", [&] { it->second.on_event(*event); });
        return;
    }
    if (auto defect = protocol::reply_defect(it->second.op, body))
        return violation(channel, "the reply to " + std::string(it->second.op) + ": " + *defect);
    auto callback = std::move(it->second.callback);
    pending_.erase(it);
    if (body["ok"].get<bool>()) {
        answer(channel.worker_id, callback, {AgentReply::Status::ok, std::move(body), {}});
    } else {
        std::string error = body["error"].get<std::string>();
        answer(channel.worker_id, callback, {AgentReply::Status::agent_error, std::move(body), std::move(error)});
    }
}

void AgentHub::bad_frame(Channel& channel, const std::string& why) {
    ++channel.bad_frames;
    if (channel.bad_frames <= kLoggedBadFrames)
        log_warn("worker " + channel.worker_id + ": dropped a message that failed verification: " + why);
    if (channel.bad_frames >= kMaxBadFrames)
        violation(channel, std::to_string(kMaxBadFrames) + " messages that failed verification (the last: " + why + ")");
}

void AgentHub::violation(Channel& channel, const std::string& why) {
    if (channel.lost) return;
    log_warn("worker " + channel.worker_id + ": protocol violation, the worker will be destroyed: " + why);
    channel.violation = why;
    lose(channel, AgentReply::Status::violation, Loss::violation, "the worker's agent broke the protocol: " + why);
}

// The channel answers nothing more: unread input would keep its ZMQ_FD signalled, so it is no
// longer watched, and its worker's owner is told to destroy it.
void AgentHub::lose(Channel& channel, AgentReply::Status status, Loss loss, const std::string& why) {
    channel.lost = true;
    unwatch_fds(channel);
    fail_pending(channel.worker_id, status, why);
    LostCallback on_lost;
    {
        std::lock_guard lock(mu_);
        on_lost = on_lost_;
    }
    if (on_lost) guarded(channel.worker_id, "the lost-worker callback", [&] { on_lost(channel.worker_id, loss); });
}

void AgentHub::answer(const std::string& worker_id, Callback& callback, AgentReply reply) {
    guarded(worker_id, "a reply's callback", [&] { callback(std::move(reply)); });
}

void AgentHub::expire(Clock::time_point now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline <= now) {
            const std::string worker_id = it->second.worker_id;
            if (auto channel = channels_.find(worker_id); channel != channels_.end()) {
                auto& expired = channel->second->expired;
                expired.insert(it->first);
                if (expired.size() > kMaxExpiredIds) expired.erase(expired.begin());
            }
            auto callback = std::move(it->second.callback);
            it = pending_.erase(it);
            answer(worker_id, callback, {AgentReply::Status::timeout, {}, "no answer before the deadline"});
        } else {
            ++it;
        }
    }
}

void AgentHub::watch(Channel& channel) {
    for (;;) {
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(channel.monitor, std::back_inserter(parts), zmq::recv_flags::dontwait)) return;
        if (parts.empty() || parts[0].size() < sizeof(std::uint16_t)) continue;
        std::uint16_t event = 0;
        std::memcpy(&event, parts[0].data(), sizeof event);
        if (event == ZMQ_EVENT_CONNECTED) {
            channel.connected = true;
        } else if (event == ZMQ_EVENT_DISCONNECTED && channel.connected && !channel.lost) {
            // The agent closed its end: it exited, or its worker is gone. ZeroMQ would reconnect
            // forever; nobody is there to answer, so say so now rather than at the deadline. What
            // it sent before it went (a "kernel died" reply) is in the socket already: read that
            // first, or a busy turn that sees this event before the socket's would lose it.
            receive(channel);
            if (channel.lost) return;  // what it sent broke the protocol
            log_warn("worker " + channel.worker_id + ": connection to the agent lost");
            lose(channel, AgentReply::Status::lost, Loss::gone, "the connection to the worker's agent was lost");
            return;
        }
    }
}

void AgentHub::fail_pending(const std::string& worker_id, AgentReply::Status status, const std::string& why) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.worker_id == worker_id) {
            auto callback = std::move(it->second.callback);
            it = pending_.erase(it);
            answer(worker_id, callback, {status, {}, why});
        } else {
            ++it;
        }
    }
}

}  // namespace ci
