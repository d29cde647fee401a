#include "code_interpreter/agent/kernel_link.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "code_interpreter/agent/kernel_process.hpp"
#include "code_interpreter/agent/log.hpp"

namespace ci::agent {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxMessageBytes = 4096;

sockaddr_un socket_address(const std::filesystem::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string text = path.string();
    if (text.size() >= sizeof address.sun_path)
        throw std::runtime_error("socket path too long: " + text);
    std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
    return address;
}

UniqueFd seqpacket_socket() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) throw errno_error("socket");
    return fd;
}

// Waits until fd is readable; false when timeout passed first.
bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd item{fd, POLLIN, 0};
        const int rc = ::poll(&item, 1, static_cast<int>(std::max<long long>(0, left.count())));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) throw errno_error("poll on the kernel link");
    }
}

void send_message(int link, const json& message, int attached_fd = -1) {
    const std::string text = message.dump();
    iovec part{const_cast<char*>(text.data()), text.size()};
    msghdr header{};
    header.msg_iov = &part;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (attached_fd >= 0) {
        header.msg_control = control;
        header.msg_controllen = sizeof control;
        cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(cmsg), &attached_fd, sizeof(int));
    }
    ssize_t n;
    while ((n = ::sendmsg(link, &header, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(text.size())) throw errno_error("send on the kernel link");
}

struct Received {
    std::optional<json> message;  // none: the other end closed
    UniqueFd attached;
};

Received receive_message(int link) {
    char buffer[kMaxMessageBytes];
    iovec part{buffer, sizeof buffer};
    msghdr header{};
    header.msg_iov = &part;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = ::recvmsg(link, &header, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    Received out;
    for (cmsghdr* cmsg = CMSG_FIRSTHDR(&header); cmsg; cmsg = CMSG_NXTHDR(&header, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
            cmsg->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
            out.attached = UniqueFd(fd);
        }
    }
    if (n < 0 && errno != ECONNRESET) throw errno_error("receive on the kernel link");
    if (n <= 0) return out;
    if (header.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        throw std::runtime_error("the kernel link carried a message too large");
    out.message = json::parse(std::string_view(buffer, static_cast<std::size_t>(n)), nullptr,
                              /*allow_exceptions=*/false);
    return out;
}

}  // namespace

std::pair<UniqueFd, UniqueFd> make_link_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
        throw errno_error("socketpair for the kernel link");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

UniqueFd accept_link(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
    const sockaddr_un address = socket_address(path);
    UniqueFd listener = seqpacket_socket();
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        throw errno_error("cannot remove stale socket " + path.string());
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        throw errno_error("cannot bind " + path.string());
    if (::chmod(path.c_str(), 0660) != 0) throw errno_error("chmod " + path.string());
    if (::listen(listener.get(), 1) != 0) throw errno_error("listen on " + path.string());
    if (!wait_readable(listener.get(), timeout))
        throw std::runtime_error("no agent connected to " + path.string() + " within " +
                                 std::to_string(timeout.count() / 1000) + " s");
    UniqueFd link(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!link) throw errno_error("accept on " + path.string());
    ::unlink(path.c_str());  // one agent, once: nothing else may connect later
    ucred peer{};
    socklen_t size = sizeof peer;
    if (::getsockopt(link.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0)
        throw errno_error("SO_PEERCRED");
    if (peer.uid == ::getuid())
        throw std::runtime_error("the kernel link's peer runs as the kernel user, not as the agent");
    return link;
}

UniqueFd connect_link(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
    const sockaddr_un address = socket_address(path);
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        UniqueFd link = seqpacket_socket();
        if (::connect(link.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
            return link;
        if (errno != ENOENT && errno != ECONNREFUSED && errno != EINTR)
            throw errno_error("cannot connect to " + path.string());
        if (Clock::now() >= deadline)
            throw std::runtime_error("the kernel's supervisor did not listen on " + path.string() +
                                     " within " + std::to_string(timeout.count() / 1000) + " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void send_started(int link, const ConnectionInfo& connection, int file_server) {
    send_message(link,
                 {{"started", {{"kernel_dir", connection.kernel_dir.string()}, {"key", connection.key}}}},
                 file_server);
}

void send_failed(int link, std::string_view why) noexcept {
    try {
        send_message(link, {{"failed", std::string(why)}});
    } catch (...) {
    }
}

void send_exit(int link, int wait_status) noexcept {
    try {
        send_message(link, {{"exit", wait_status}});
    } catch (...) {
    }
}

StartReport receive_start(int link, std::chrono::milliseconds timeout) {
    if (!wait_readable(link, timeout))
        throw std::runtime_error("the kernel's supervisor did not report within " +
                                 std::to_string(timeout.count() / 1000) + " s");
    Received received = receive_message(link);
    if (!received.message)
        throw std::runtime_error("the kernel's supervisor closed the link without a report");
    const json& message = *received.message;
    if (message.is_object() && message.contains("failed") && message["failed"].is_string())
        throw std::runtime_error("kernel start-up failed: " + message["failed"].get<std::string>());
    const json started = message.is_object() ? message.value("started", json()) : json();
    if (!started.is_object() || !started.value("kernel_dir", json()).is_string() ||
        !started.value("key", json()).is_string() || !received.attached)
        throw std::runtime_error("the kernel's supervisor sent an invalid start report");
    return StartReport{
        ConnectionInfo{started["kernel_dir"].get<std::string>(), started["key"].get<std::string>()},
        std::move(received.attached)};
}

std::string describe(const KernelEnd& end) {
    return end.wait_status ? describe_wait_status(*end.wait_status)
                           : std::string("its supervisor ended without a status");
}

std::optional<KernelEnd> receive_end(int link, std::chrono::milliseconds timeout) {
    if (!wait_readable(link, timeout)) return std::nullopt;
    try {
        Received received = receive_message(link);
        if (received.message && received.message->is_object() &&
            received.message->value("exit", json()).is_number_integer())
            return KernelEnd{(*received.message)["exit"].get<int>()};
    } catch (const std::exception& e) {
        log_line(std::string("kernel link: ") + e.what());
    }
    // Closed, or anything but the exit message: the supervisor is gone or not to be trusted.
    return KernelEnd{};
}

}  // namespace ci::agent
