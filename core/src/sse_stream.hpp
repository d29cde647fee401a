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
//
// A client that does not read would make the transport hold every event: the bytes pushed and
// not yet written are counted (Peer::send's promise settles once they are written), and an event
// that would take them past max_queued_bytes ends the stream instead, with a last "error" event
// of reason client_too_slow. The final event (send_final) is always queued: it is bounded by the
// execution's output limit, and it is what the client came for.
#include <atomic>
#include <cstddef>
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
    SseStream(Pistache::Http::ResponseWriter& writer, std::size_t max_queued_bytes);
    // data is one JSON value, sent as one line. Safe from any thread; does nothing once the
    // stream ended or the client went away.
    void send(std::string_view name, const nlohmann::json& data);
    // The last event, then the last chunk: the answer is complete and the connection serves the
    // next request.
    void send_final(std::string_view name, const nlohmann::json& data);
    // Ends the answer without a last event (an MCP call the client cancelled gets none).
    void end();

private:
    void write_locked(std::string bytes);
    void end_locked();

    std::mutex mu_;
    std::weak_ptr<Pistache::Tcp::Peer> peer_;
    const std::size_t max_queued_bytes_;
    // Pushed to the transport and not yet written; the transport's thread lowers it.
    std::shared_ptr<std::atomic<std::size_t>> queued_ = std::make_shared<std::atomic<std::size_t>>(0);
    bool ended_ = false;
};

}  // namespace ci
