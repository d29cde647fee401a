#pragma once
// A Server-Sent Events answer (text/event-stream over chunked transfer encoding), written from
// any thread while the execution runs.
//
// Why not Pistache's ResponseStream: in Pistache 0.0.5 its flush() calls Transport::flush(), which
// drains the transport's single-consumer write queue and writes to the socket on the *calling*
// thread, racing the transport's own thread (upstream issues 1006 and 1290). Our events come from
// AgentHub's I/O thread. So the stream writes its bytes, framed here, through Tcp::Peer::send():
// that only pushes onto the transport's multi-producer queue and wakes the transport's thread,
// which does the writing; it is the same call ResponseWriter::send() makes for every answer the
// gateway completes from another thread. One mutex orders the pushes, so the bytes go out in the
// order they were sent.
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <pistache/http.h>

namespace ci {

// One event: "event: <name>" and one "data:" line per line of data, then a blank line.
std::string sse_event(std::string_view name, std::string_view data);
// payload as one chunk of a chunked body (payload must not be empty: that is the last chunk).
std::string http_chunk(std::string_view payload);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
// The answer's head; keep_alive echoes the request's Connection; extra_headers are whole
// "Name: value\r\n" lines.
std::string sse_head(bool keep_alive, std::string_view extra_headers = {});

class SseStream {
public:
    // Sends the head at once. Call from the Pistache handler.
    explicit SseStream(Pistache::Http::ResponseWriter& writer);
    // data is one JSON value, sent as one line. Safe from any thread; does nothing once the
    // stream ended or the client went away.
    void send(std::string_view name, const nlohmann::json& data);
    // Sends the last chunk: the answer is complete and the connection serves the next request.
    void end();

private:
    void write_locked(std::string bytes);

    std::mutex mu_;
    std::weak_ptr<Pistache::Tcp::Peer> peer_;
    bool ended_ = false;
};

}  // namespace ci
