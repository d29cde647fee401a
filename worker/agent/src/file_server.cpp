#include "code_interpreter/agent/file_server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <string>
#include <string_view>

#include "code_interpreter/agent/frames.hpp"
#include "code_interpreter/agent/workspace_files.hpp"

namespace ci::agent {
namespace {

using nlohmann::json;

bool send_all(int socket, std::string_view data) {
    while (!data.empty()) {
        // MSG_NOSIGNAL: an agent that went away is an error here, not a SIGPIPE.
        const ssize_t n = ::send(socket, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

json answer(int workspace, const std::string& text) {
    auto request = protocol::decode_request(json::parse(text, nullptr, /*allow_exceptions=*/false));
    if (auto* error = std::get_if<std::string>(&request)) return file_failure("invalid_request", *error);
    try {
        return handle_file_request(workspace, std::get<protocol::Request>(request));
    } catch (const std::exception& e) {  // out of memory, no randomness for a temporary name
        return file_failure("io", std::string("the file server failed: ") + e.what());
    }
}

}  // namespace

void serve_files(int socket, int workspace) {
    FrameReader reader;
    std::string buffer(64 * 1024, '\0');
    for (;;) {
        const ssize_t n = ::read(socket, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        reader.append(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
        while (auto text = reader.next()) {
            auto frame = encode_frame(answer(workspace, *text));
            if (!frame) {
                const std::string limit = std::to_string(kMaxFrameBytes >> 20) + " MiB";
                frame = encode_frame(file_failure(
                    "too_large", "the reply is larger than the " + limit + " a frame may hold"));
            }
            if (!send_all(socket, *frame)) return;
        }
        if (reader.failed()) return;
    }
}

}  // namespace ci::agent
