#include "code_interpreter/agent/file_server_channel.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

#include "code_interpreter/agent/frames.hpp"

namespace ci::agent {
namespace {

// Read at most this much per exchange, so that a flood cannot hold the poll loop.
constexpr std::size_t kReadBudget = 8U << 20;

std::string error_text(int err) { return std::generic_category().message(err); }

}  // namespace

FileServerChannel::FileServerChannel(UniqueFd socket) : socket_(std::move(socket)) {
    if (!socket_) {
        reason_ = "the file server was not started";
        return;
    }
    const int flags = ::fcntl(socket_.get(), F_GETFL);
    if (flags < 0 || ::fcntl(socket_.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        disconnect("cannot make its socket non-blocking: " + error_text(errno));
}

void FileServerChannel::send(const std::string& frame) {
    if (!connected()) return;
    if (sent_ == out_.size()) {
        out_.clear();
        sent_ = 0;
    }
    out_ += frame;
    flush();
}

void FileServerChannel::flush() {
    while (connected() && sent_ < out_.size()) {
        // MSG_NOSIGNAL: a file server that died is a disconnect, not a SIGPIPE for the agent.
        const ssize_t n = ::send(socket_.get(), out_.data() + sent_, out_.size() - sent_,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0) {
            disconnect("cannot write to it: " + error_text(errno));
            return;
        }
        sent_ += static_cast<std::size_t>(n);
    }
}

std::vector<std::string> FileServerChannel::exchange() {
    std::vector<std::string> replies;
    flush();
    std::string buffer(64 * 1024, '\0');
    for (std::size_t total = 0; connected() && total < kReadBudget;) {
        const ssize_t n = ::recv(socket_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            disconnect(n == 0 ? "it closed its socket"
                              : "cannot read from it: " + error_text(errno));
            break;
        }
        total += static_cast<std::size_t>(n);
        reader_.append(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
        while (auto text = reader_.next()) replies.push_back(std::move(*text));
        if (reader_.failed())
            disconnect("it sent a frame larger than " + std::to_string(kMaxFrameBytes) + " bytes");
    }
    return replies;
}

void FileServerChannel::disconnect(std::string reason) {
    if (!connected()) return;
    socket_.reset();
    reason_ = std::move(reason);
    out_.clear();
    sent_ = 0;
}

}  // namespace ci::agent
