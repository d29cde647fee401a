#include "sse_stream.hpp"

#include <cstdio>
#include <sstream>

#include <pistache/peer.h>

#include "api_error.hpp"
#include "http_reply.hpp"

namespace ci {

std::string sse_event(std::string_view name, std::string_view data) {
    std::string out = "event: ";
    out.append(name);
    out.push_back('\n');
    std::size_t start = 0;
    for (;;) {
        std::size_t end = data.find('\n', start);
        out += "data: ";
        out.append(data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        out.push_back('\n');
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    out.push_back('\n');
    return out;
}

std::string http_chunk(std::string_view payload) {
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    std::string out = size;
    out.append(payload);
    out += "\r\n";
    return out;
}

std::string sse_head(bool keep_alive, std::string_view extra_headers) {
    return std::string("HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/event-stream; charset=utf-8\r\n"
                       "Cache-Control: no-cache\r\n"
                       "X-Accel-Buffering: no\r\n"  // a buffering reverse proxy would hold the events back
                       "Transfer-Encoding: chunked\r\n") +
           std::string(extra_headers) + "Connection: " + (keep_alive ? "keep-alive" : "close") + "\r\n\r\n";
}

SseStream::SseStream(Pistache::Http::ResponseWriter& writer, std::size_t max_queued_bytes)
    : peer_(writer.getPeer()), max_queued_bytes_(max_queued_bytes) {
    // Pistache put the Connection answer it would give this request in the writer's headers; the
    // others there (CORS) go out as they are.
    auto connection = writer.headers().tryGet<Pistache::Http::Header::Connection>();
    bool keep_alive = connection && connection->control() == Pistache::Http::ConnectionControl::KeepAlive;
    std::string extra;
    for (const auto& header : writer.headers().list()) {
        if (std::string_view(header->name()) == "Connection") continue;
        std::ostringstream value;
        header->write(value);
        extra += std::string(header->name()) + ": " + value.str() + "\r\n";
    }
    std::lock_guard lock(mu_);
    write_locked(sse_head(keep_alive, extra));
}

void SseStream::send(std::string_view name, const nlohmann::json& data) {
    std::lock_guard lock(mu_);
    if (ended_) return;
    std::string chunk = http_chunk(sse_event(name, dump(data)));
    const std::size_t queued = queued_->load();
    if (queued + chunk.size() > max_queued_bytes_) {
        const ApiError cut{ErrorReason::client_too_slow,
                           "the client did not read the stream: " + std::to_string(queued) +
                               " bytes of events were waiting (server.stream_buffer_bytes is " +
                               std::to_string(max_queued_bytes_) +
                               "), so the stream was ended; the execution goes on in the session, and its "
                               "outputs are not sent"};
        write_locked(http_chunk(sse_event("error", dump(error_json(cut)))));
        end_locked();
        return;
    }
    write_locked(std::move(chunk));
}

void SseStream::send_final(std::string_view name, const nlohmann::json& data) {
    std::lock_guard lock(mu_);
    if (ended_) return;
    write_locked(http_chunk(sse_event(name, dump(data))));
    end_locked();
}

void SseStream::end() {
    std::lock_guard lock(mu_);
    if (!ended_) end_locked();
}

void SseStream::end_locked() {
    ended_ = true;
    write_locked(std::string(kLastChunk));
    // The request is answered: the peer's keep-alive timer applies again, as after send(), and
    // closes a connection that still does not read.
    if (auto peer = peer_.lock()) peer->setIdle(true);
}

void SseStream::write_locked(std::string bytes) {
    auto peer = peer_.lock();
    if (!peer) return;  // the client went away; the execution still runs to its end
    const auto size = bytes.size();
    queued_->fetch_add(size);
    peer->send(Pistache::RawBuffer(std::move(bytes), size))
        .then([queued = queued_, size](ssize_t) { queued->fetch_sub(size); },
              [queued = queued_, size](std::exception_ptr) { queued->fetch_sub(size); });
}

}  // namespace ci
