#pragma once
// Turns the kernel's messages for one execute_request into a protocol::ExecutionResult.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "code_interpreter/agent/jupyter_message.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"

namespace ci::agent {

// The content of the execute_request that runs code. store_history: the kernel numbers the
// execution, keeps its input and output (In, Out, _N) and saves it in its history.
nlohmann::json execute_request_content(const std::string& code, bool store_history);

// Pure logic: the caller feeds it every verified shell and iopub message, in arrival order;
// messages whose parent is not this execution's request are ignored.
//
// Output limit: everything an output carries counts against max_output_bytes (0 keeps nothing):
// stream text; a MIME bundle's keys and values (text as its bytes, JSON as its serialization);
// metadata as its serialization; an error's name, message and traceback lines; and a fixed
// overhead per output (and per traceback line), so that a reply stays within a known multiple of
// the limit (protocol::max_reply_bytes). The first output that does not fit is cut (stream text, on
// a UTF-8 boundary; an error loses its traceback) or dropped (rich data, which cannot be cut),
// truncated is set, and nothing after it is kept, errors included.
//
// clear_output empties what is kept. Without streaming, cleared output stops counting; with
// streaming it was sent already, so it keeps counting and a cut stays a cut.
//
// Streaming: with stream set, every output message that passes the limit is also kept as an event
// (a stream event holds only that message's text, cut if it was cut) until take_events().
class ExecutionCollector {
public:
    // What each output costs beyond its content (its keys and punctuation in the reply, or the
    // event that streams it), and each traceback line beyond its text: a flood of empty outputs
    // counts too.
    static constexpr std::uint64_t kOutputOverhead = 64;
    static constexpr std::uint64_t kTracebackLineOverhead = 8;

    ExecutionCollector(std::string msg_id, std::uint64_t max_output_bytes, bool stream = false);

    const std::string& msg_id() const { return msg_id_; }

    void on_iopub(const JupyterMessage& message);
    void on_shell(const JupyterMessage& message);

    // True once both the execute_reply and the iopub status "idle" have arrived, in either order.
    bool complete() const { return reply_ && idle_; }

    // The result; call once, when complete.
    protocol::ExecutionResult take_result();

    // The events since the last call, oldest first; always empty without stream.
    std::vector<protocol::OutputItem> take_events() { return std::exchange(events_, {}); }

private:
    void add_stream(const nlohmann::json& content);
    void add_rich(const std::string& type, const nlohmann::json& content);
    void add_error(const nlohmann::json& content);
    void keep_error(protocol::OutputItem error, bool send);
    std::uint64_t room() const;
    void apply_pending_clear();

    std::string msg_id_;
    std::uint64_t limit_;
    std::uint64_t used_ = 0;
    protocol::ExecutionResult result_;
    bool clear_pending_ = false;  // clear_output(wait=True): clear when the next output arrives
    bool iopub_error_ = false;
    bool idle_ = false;
    std::optional<nlohmann::json> reply_;  // the execute_reply's content
    bool stream_;
    std::vector<protocol::OutputItem> events_;
};

}  // namespace ci::agent
