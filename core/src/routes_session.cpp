// A user's session: POST /execute (and /api/v1/execute/stream), /api/v1/interrupt, /release.
//
// Execute answers 200 {result_text, result_base64 (the seed's), stdout, stderr, outputs, error,
// execution_count, duration_ms, truncated (result_format.hpp), new_session, previous_session}.
// An execution stopped by /api/v1/interrupt answers 409 {reason: "interrupted", session_kept:
// true, detail, and the output fields above as far as it got}: a conflict with the caller's own
// request, not a failure of the service (503), and the kernel and its state are still there.
//
// /api/v1/execute/stream answers text/event-stream: "stdout" / "stderr" {text}, "display"
// {type, data, metadata} and "error" {ename, evalue, traceback} as the kernel produces them, then
// either "result" with the body /execute answers with, or "error" with the error body /execute
// would answer with (it has "reason"; a kernel exception's "error" has "ename"); then the answer
// ends. A request refused before it was queued (bad body) gets a plain JSON error instead.
#include <memory>
#include <optional>

#include "http_reply.hpp"
#include "request_fields.hpp"
#include "result_format.hpp"
#include "routes.hpp"
#include "sse_stream.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

namespace {

struct ExecuteRequest {
    std::string user;
    std::string code;
    ExecuteOptions options;
};

// The checked fields of an execute request, or nothing (after answering with the error).
std::optional<ExecuteRequest> execute_request(const Request& request, ResponseWriter& writer, ApiServices& services,
                                              const Caller& caller, Dialect dialect) {
    auto body = or_answer(parse_body(request.body(), services.config.server.max_body_bytes), writer, dialect);
    if (!body) return std::nullopt;
    auto user = or_answer(session_owner(caller, *body, request.query().get("user_uuid")), writer, dialect);
    if (!user) return std::nullopt;
    auto code = or_answer(code_field(*body), writer, dialect);
    if (!code) return std::nullopt;
    auto store_history =
        or_answer(bool_field(*body, "store_history", services.config.execution.store_history), writer, dialect);
    if (!store_history) return std::nullopt;
    return ExecuteRequest{std::move(*user), std::move(*code), ExecuteOptions{.store_history = *store_history}};
}

nlohmann::json answer_body(const ExecutionAnswer& answer) {
    nlohmann::json body = seed_response(answer.result);
    body.update(output_fields(answer.result));
    body.update(session_fields(answer.new_session, answer.previous_session));
    return body;
}

ApiError interrupted_error(const ExecutionAnswer& answer) {
    ApiError error{ErrorReason::interrupted,
                   "the execution was interrupted (POST /api/v1/interrupt); the session and its state are kept", true};
    error.details = output_fields(answer.result);
    error.details.update(session_fields(answer.new_session, answer.previous_session));
    return error;
}

}  // namespace

void handle_execute(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    auto parsed = execute_request(request, writer, services, caller, Dialect::original);
    if (!parsed) return;
    // ResponseWriter is move-only; the callback is copyable and may run on another thread.
    auto shared_writer = std::make_shared<ResponseWriter>(std::move(writer));
    services.sessions.execute(parsed->user, std::move(parsed->code), std::move(parsed->options),
                              [shared_writer](ExecutionOutcome outcome) {
                                  if (auto* error = std::get_if<ApiError>(&outcome)) {
                                      send_error(*shared_writer, *error);
                                      return;
                                  }
                                  const auto& answer = std::get<ExecutionAnswer>(outcome);
                                  if (answer.interrupted)
                                      send_error(*shared_writer, interrupted_error(answer));
                                  else
                                      send_json(*shared_writer, 200, dump(answer_body(answer)));
                              });
}

void handle_execute_stream(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    auto parsed = execute_request(request, writer, services, caller, Dialect::ours);
    if (!parsed) return;
    auto stream = std::make_shared<SseStream>(writer, services.config.server.stream_buffer_bytes);
    parsed->options.on_output = [stream](const protocol::OutputItem& item) {
        if (auto event = output_event(item)) stream->send(event->name, event->data);
    };
    services.sessions.execute(parsed->user, std::move(parsed->code), std::move(parsed->options),
                              [stream](ExecutionOutcome outcome) {
                                  if (auto* error = std::get_if<ApiError>(&outcome)) {
                                      stream->send_final("error", error_json(*error));
                                  } else {
                                      const auto& answer = std::get<ExecutionAnswer>(outcome);
                                      if (answer.interrupted)
                                          stream->send_final("error", error_json(interrupted_error(answer)));
                                      else
                                          stream->send_final("result", answer_body(answer));
                                  }
                              });
}

void handle_interrupt(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    auto body = or_answer(parse_body(request.body(), services.config.server.max_body_bytes), writer);
    if (!body) return;
    auto user = or_answer(session_owner(caller, *body, request.query().get("user_uuid")), writer);
    if (!user) return;
    auto shared_writer = std::make_shared<ResponseWriter>(std::move(writer));
    services.sessions.interrupt_execution(*user, [shared_writer](std::variant<bool, ApiError> outcome) {
        if (auto* error = std::get_if<ApiError>(&outcome))
            send_error(*shared_writer, *error);
        else
            send_json(*shared_writer, 200, dump({{"status", "ok"}, {"interrupted", std::get<bool>(outcome)}}));
    });
}

void handle_release(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    auto body = or_answer(parse_body(request.body(), services.config.server.max_body_bytes), writer, Dialect::original);
    if (!body) return;
    auto user = or_answer(session_owner(caller, *body, request.query().get("user_uuid")), writer, Dialect::original);
    if (!user) return;
    if (!services.sessions.release(*user)) {
        send_error(writer, {ErrorReason::not_found, "no session for user_uuid " + *user});
        return;
    }
    send_json(writer, 200, dump({{"status", "ok"}, {"detail", "session of " + *user + " released; its worker is being destroyed"}}));
}

}  // namespace ci
