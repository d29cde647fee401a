#include "code_interpreter/agent/kernel_client.hpp"

#include <iterator>
#include <vector>

#include <zmq_addon.hpp>

#include "code_interpreter/crypto/crypto.hpp"

namespace ci::agent {
namespace {

zmq::socket_t connected(zmq::context_t& context, zmq::socket_type type,
                        const std::string& endpoint) {
    zmq::socket_t socket(context, type);
    // Undelivered requests to a dead kernel must not hold up the agent's exit.
    socket.set(zmq::sockopt::linger, 0);
    if (type == zmq::socket_type::sub) {
        socket.set(zmq::sockopt::subscribe, "");
        // A message dropped at the high-water mark could be an execution's "idle" status, which
        // would leave that execution waiting forever. The agent drains iopub as it arrives.
        socket.set(zmq::sockopt::rcvhwm, 0);
    }
    socket.connect(endpoint);
    return socket;
}

}  // namespace

KernelClient::KernelClient(zmq::context_t& context, const ConnectionInfo& connection)
    : key_(connection.key),
      session_(crypto::random_hex(16)),
      shell_(connected(context, zmq::socket_type::dealer,
                       connection.endpoint(ConnectionInfo::kShellPort))),
      control_(connected(context, zmq::socket_type::dealer,
                         connection.endpoint(ConnectionInfo::kControlPort))),
      iopub_(connected(context, zmq::socket_type::sub,
                       connection.endpoint(ConnectionInfo::kIopubPort))) {}

std::string KernelClient::send_shell(std::string_view msg_type, const nlohmann::json& content) {
    return send(shell_, msg_type, content);
}

std::string KernelClient::send_control(std::string_view msg_type, const nlohmann::json& content) {
    return send(control_, msg_type, content);
}

std::string KernelClient::send(zmq::socket_t& socket, std::string_view msg_type,
                               const nlohmann::json& content) {
    JupyterMessage message;
    message.header = make_header(msg_type, session_, "ci-agent");
    message.content = content;
    std::vector<std::string> frames = to_wire(message, key_);
    std::vector<zmq::const_buffer> buffers;
    for (const auto& frame : frames) buffers.push_back(zmq::buffer(frame));
    // The DEALER queues the message until the kernel has bound its socket.
    zmq::send_multipart(socket, buffers);
    return message.msg_id();
}

std::optional<ParsedMessage> KernelClient::receive(zmq::socket_t& socket) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait))
        return std::nullopt;
    std::vector<std::string> frames;
    frames.reserve(parts.size());
    for (const auto& part : parts) frames.push_back(part.to_string());
    return parse_wire(frames, key_);
}

}  // namespace ci::agent
