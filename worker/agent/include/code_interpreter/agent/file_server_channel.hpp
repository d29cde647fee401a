#pragma once
// The agent's end of the file server's socket (file_server.hpp): requests go out and replies come
// in without ever blocking the agent's poll loop. The server answers one request at a time, so
// replies come back in the order the requests were sent.
#include <string>
#include <vector>

#include "code_interpreter/agent/frames.hpp"
#include "code_interpreter/fd/unique_fd.hpp"

namespace ci::agent {

using ci::fd::UniqueFd;

class FileServerChannel {
public:
    // Makes socket non-blocking; an invalid fd is a channel that is already disconnected.
    explicit FileServerChannel(UniqueFd socket);

    bool connected() const { return static_cast<bool>(socket_); }
    const std::string& disconnect_reason() const { return reason_; }
    int fd() const { return socket_.get(); }

    // True while queued bytes wait for the socket to take them: poll for writing then.
    bool wants_write() const { return sent_ < out_.size(); }

    // Queues one frame (from encode_frame) and writes what the socket takes now.
    void send(const std::string& frame);

    // Writes and reads what the socket allows now and returns the replies that are complete,
    // oldest first. Disconnects on end of file, an error or a malformed frame.
    std::vector<std::string> exchange();

    void disconnect(std::string reason);

private:
    void flush();

    UniqueFd socket_;
    std::string out_;
    std::size_t sent_ = 0;  // bytes of out_ already written
    FrameReader reader_;
    std::string reason_;
};

}  // namespace ci::agent
