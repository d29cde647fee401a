#pragma once
// The agent's poll loop: waits for the kernel to be ready, then serves the gateway's requests:
// executions go to the kernel one at a time, file operations to the file server beside them.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "code_interpreter/agent/execution.hpp"
#include "code_interpreter/agent/file_server_channel.hpp"
#include "code_interpreter/agent/kernel_client.hpp"
#include "code_interpreter/agent/kernel_process.hpp"
#include "code_interpreter/agent/readiness.hpp"
#include "code_interpreter/fd/unique_fd.hpp"
#include "code_interpreter/protocol/requests.hpp"

namespace ci::agent {

using ci::fd::UniqueFd;

class Agent {
public:
    // file_server is the agent's end of the file server's socket; gateway the bound ROUTER;
    // signals the signalfd from open_signal_fd().
    Agent(KernelProcess kernel, UniqueFd file_server, KernelClient client, zmq::socket_t gateway,
          std::string gateway_key, UniqueFd signals);

    // Runs until the kernel dies (returns 1, after answering every request with an error) or
    // SIGTERM/SIGINT (returns 0, after stopping the kernel). Throws when the kernel is not
    // ready within the start-up timeout.
    int run();

private:
    struct Request {
        std::string routing_id;  // empty: the agent's own warm-up
        nlohmann::json id;
        protocol::ExecuteRequest execute;
    };
    struct Running {
        Request request;
        ExecutionCollector collector;
        std::chrono::steady_clock::time_point started;
    };
    struct FileRequest {  // sent to the file server, waiting for its reply
        std::string routing_id;
        nlohmann::json id;
    };

    std::optional<int> handle_signals();
    std::optional<int> handle_kernel_end();
    void handle_kernel_messages();
    void handle_gateway_messages();
    void handle_request(std::string routing_id, const nlohmann::json& body);
    void handle_file_request(std::string routing_id, const nlohmann::json& id,
                             const protocol::Request& request);
    void handle_file_server();
    void fail_file_requests();
    void send_events();
    void start_next_execution();
    void finish_execution();
    void on_warmed_up();
    void fail_all(const std::string& error);
    void reply(const std::string& routing_id, const nlohmann::json& body);
    std::string send_shell(std::string_view msg_type, const nlohmann::json& content);
    void log_dropped(const std::string& source, const std::string& error);
    int stop();

    KernelProcess kernel_;
    FileServerChannel files_;
    std::deque<FileRequest> file_requests_;
    KernelClient client_;
    zmq::socket_t gateway_;
    std::string gateway_key_;
    UniqueFd signals_;
    KernelReadiness readiness_;
    bool ready_ = false;
    bool warming_up_ = false;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::deque<Request> queue_;
    std::optional<Running> running_;
    std::uint64_t dropped_ = 0;  // messages that failed verification or parsing

    // The ZeroMQ sockets are polled through their ZMQ_FD, which signals news, not messages: a
    // socket is read until empty once its fd fires, and again after the agent sends on it (a send
    // may take up the signal of a message that came meanwhile). Every read of an empty socket
    // costs system calls, so an idle one is not read (zmq::poll would ask each socket each turn).
    // Due at the start: a pipe that filled before the first read has signalled no one.
    int shell_fd_ = client_.shell_socket().get(zmq::sockopt::fd);
    int iopub_fd_ = client_.iopub_socket().get(zmq::sockopt::fd);
    int gateway_fd_ = gateway_.get(zmq::sockopt::fd);
    bool shell_due_ = true;
    bool iopub_due_ = true;
    bool gateway_due_ = true;
};

}  // namespace ci::agent
