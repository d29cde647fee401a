#pragma once
// The agent's sockets to the kernel: shell and control (DEALER), iopub (SUB to everything).
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "code_interpreter/agent/connection_info.hpp"
#include "code_interpreter/agent/jupyter_message.hpp"

namespace ci::agent {

class KernelClient {
public:
    // Connects right away; ZeroMQ retries the ipc connects until the kernel has bound them.
    KernelClient(zmq::context_t& context, const ConnectionInfo& connection);

    // Sends a request; returns its msg_id.
    std::string send_shell(std::string_view msg_type, const nlohmann::json& content);
    std::string send_control(std::string_view msg_type, const nlohmann::json& content);

    // The next message waiting on the socket, verified and parsed (or why not); nullopt when
    // none is waiting.
    std::optional<ParsedMessage> receive_shell() { return receive(shell_); }
    std::optional<ParsedMessage> receive_iopub() { return receive(iopub_); }

    zmq::socket_t& shell_socket() { return shell_; }
    zmq::socket_t& iopub_socket() { return iopub_; }

private:
    std::string send(zmq::socket_t& socket, std::string_view msg_type,
                     const nlohmann::json& content);
    std::optional<ParsedMessage> receive(zmq::socket_t& socket);

    std::string key_;
    std::string session_;
    zmq::socket_t shell_;
    zmq::socket_t control_;
    zmq::socket_t iopub_;
};

}  // namespace ci::agent
