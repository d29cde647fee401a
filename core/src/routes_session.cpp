// POST /execute and POST /release: a user's session.
#include <memory>

#include "http_reply.hpp"
#include "request_fields.hpp"
#include "result_format.hpp"
#include "routes.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

void handle_execute(const Request& request, ResponseWriter writer, ApiServices& services) {
    auto body = or_answer(parse_body(request.body(), services.config.server.max_body_bytes), writer);
    if (!body) return;
    auto user = or_answer(user_uuid(*body, request.query().get("user_uuid")), writer);
    if (!user) return;
    auto code = or_answer(code_field(*body), writer);
    if (!code) return;
    auto store_history = or_answer(bool_field(*body, "store_history", services.config.execution.store_history), writer);
    if (!store_history) return;
    // ResponseWriter is move-only; the callback is copyable and may run on another thread.
    auto shared_writer = std::make_shared<ResponseWriter>(std::move(writer));
    ExecuteOptions options{.store_history = *store_history};
    services.sessions.execute(*user, std::move(*code), options, [shared_writer](ExecutionOutcome outcome) {
        if (auto* error = std::get_if<ApiError>(&outcome)) {
            send_error(*shared_writer, *error);
        } else {
            const auto& answer = std::get<ExecutionAnswer>(outcome);
            nlohmann::json body = seed_response(answer.result);
            body["new_session"] = answer.new_session;
            body["previous_session"] =
                answer.previous_session.empty() ? nlohmann::json(nullptr) : nlohmann::json(answer.previous_session);
            send_json(*shared_writer, 200, dump(body));
        }
    });
}

void handle_release(const Request& request, ResponseWriter writer, ApiServices& services) {
    auto body = or_answer(parse_body(request.body(), services.config.server.max_body_bytes), writer);
    if (!body) return;
    auto user = or_answer(user_uuid(*body, request.query().get("user_uuid")), writer);
    if (!user) return;
    if (!services.sessions.release(*user)) {
        send_error(writer, {ErrorReason::not_found, "no session for user_uuid " + *user});
        return;
    }
    send_json(writer, 200, dump({{"status", "ok"}, {"detail", "session of " + *user + " released; its worker is being destroyed"}}));
}

}  // namespace ci
