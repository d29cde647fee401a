#include "http_api.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "log.hpp"
#include "request_fields.hpp"
#include "result_format.hpp"

namespace ci {

using Pistache::Http::Code;
using Pistache::Http::Method;
using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

namespace {

constexpr std::string_view kVersionPrefix = "/api/v1";
constexpr int kRetryAfterSeconds = 5;

// Pistache writes only typed headers into a response (raw ones are dropped), so Retry-After
// needs a type of its own.
class RetryAfter final : public Pistache::Http::Header::Header {
public:
    NAME("Retry-After")
    RetryAfter() = default;
    explicit RetryAfter(int seconds) : seconds_(seconds) {}
    void parse(const std::string& data) override { seconds_ = std::stoi(data); }
    void write(std::ostream& os) const override { os << seconds_; }

private:
    int seconds_ = 0;
};

void send_json(ResponseWriter& writer, int status, const std::string& body) {
    writer.headers().add<Pistache::Http::Header::ContentType>(MIME(Application, Json));
    writer.send(static_cast<Code>(status), body);
}

void send_error(ResponseWriter& writer, const ApiError& error) {
    if (error.reason == ErrorReason::pool_exhausted) writer.headers().add<RetryAfter>(kRetryAfterSeconds);
    send_json(writer, http_status(error.reason), error_body(error));
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

plugin::AuthRequest auth_request(const Request& request) {
    plugin::AuthRequest out;
    out.path = request.resource();
    auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return s;
    };
    for (const auto& [name, raw] : request.headers().rawList()) out.headers.emplace_back(lower(raw.name()), raw.value());
    for (const auto& header : request.headers().list()) {
        std::ostringstream value;
        header->write(value);
        out.headers.emplace_back(lower(header->name()), value.str());
    }
    return out;
}

// The value, or (after answering with the error) nothing.
template <class T>
std::optional<T> or_answer(std::variant<T, ApiError> checked, ResponseWriter& writer) {
    if (auto* error = std::get_if<ApiError>(&checked)) {
        send_error(writer, *error);
        return std::nullopt;
    }
    return std::get<T>(std::move(checked));
}

}  // namespace

void HttpApi::onRequest(const Request& request, ResponseWriter writer) {
    std::string path = request.resource();
    if (path.rfind(kVersionPrefix, 0) == 0 && (path.size() == kVersionPrefix.size() || path[kVersionPrefix.size()] == '/'))
        path = path.substr(kVersionPrefix.size());
    if (path.size() > 1 && path.back() == '/') path.pop_back();

    struct Route {
        const char* path;
        Method method;
        bool admin;
    };
    static const Route routes[] = {
        {"/execute", Method::Post, false},
        {"/release", Method::Post, false},
        {"/status", Method::Get, true},
        {"/health", Method::Get, false},
    };
    auto route = std::find_if(std::begin(routes), std::end(routes), [&](const Route& r) { return path == r.path; });
    if (route == std::end(routes)) {
        send_error(writer, {ErrorReason::not_found, "no route " + request.resource()});
        return;
    }
    if (request.method() != route->method) {
        writer.headers().add<Pistache::Http::Header::Allow>(route->method);
        send_error(writer, {ErrorReason::method_not_allowed, std::string(route->path) + " only answers " +
                                                                  (route->method == Method::Post ? "POST" : "GET")});
        return;
    }
    if (path == "/health") {
        send_json(writer, 200, R"({"status":"ok"})");
        return;
    }

    plugin::AuthDecision decision;
    try {
        decision = services_->auth.authenticate(auth_request(request));
    } catch (const std::exception& e) {
        log_error(std::string("auth plugin threw: ") + e.what());
        send_error(writer, {ErrorReason::internal, "authentication failed inside the gateway"});
        return;
    }
    if (!decision.allowed) {
        send_error(writer, {ErrorReason::unauthorized, "authentication required: " + decision.reason});
        return;
    }
    if (route->admin && decision.role != plugin::Role::admin) {
        send_error(writer, {ErrorReason::forbidden, "this route needs the admin token"});
        return;
    }

    if (path == "/execute") return execute(request, std::move(writer));
    if (path == "/release") return release(request, std::move(writer));
    status(std::move(writer));
}

void HttpApi::execute(const Request& request, ResponseWriter writer) {
    auto body = or_answer(parse_body(request.body(), services_->config.server.max_body_bytes), writer);
    if (!body) return;
    auto user = or_answer(user_uuid(*body, request.query().get("user_uuid")), writer);
    if (!user) return;
    auto code = or_answer(code_field(*body), writer);
    if (!code) return;
    auto store_history = or_answer(bool_field(*body, "store_history", services_->config.execution.store_history), writer);
    if (!store_history) return;
    // ResponseWriter is move-only; the callback is copyable and may run on another thread.
    auto shared_writer = std::make_shared<ResponseWriter>(std::move(writer));
    ExecuteOptions options{.store_history = *store_history};
    services_->sessions.execute(*user, std::move(*code), options, [shared_writer](ExecutionOutcome outcome) {
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

void HttpApi::release(const Request& request, ResponseWriter writer) {
    auto body = or_answer(parse_body(request.body(), services_->config.server.max_body_bytes), writer);
    if (!body) return;
    auto user = or_answer(user_uuid(*body, request.query().get("user_uuid")), writer);
    if (!user) return;
    if (!services_->sessions.release(*user)) {
        send_error(writer, {ErrorReason::not_found, "no session for user_uuid " + *user});
        return;
    }
    send_json(writer, 200, dump({{"status", "ok"}, {"detail", "session of " + *user + " released; its worker is being destroyed"}}));
}

void HttpApi::status(ResponseWriter writer) {
    const auto& c = services_->config;
    PoolStats pool = services_->pool.stats();
    SessionStats sessions = services_->sessions.stats();
    nlohmann::json body = {
        {"total_workers", pool.total()},
        {"idle_workers", pool.idle},
        {"busy_workers", pool.busy},
        {"creating_workers", pool.creating},
        {"destroying_workers", pool.destroying},
        {"waiting_sessions", pool.waiting},
        {"sessions", sessions.sessions},
        {"running_executions", sessions.running},
        {"queued_executions", sessions.queued},
        {"sessions_waiting_to_run", sessions.admission_waiting},
        {"last_worker_error", pool.last_create_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(pool.last_create_error)},
        {"condition",
         {{"state", pool.condition},
          {"consecutive_failures", pool.consecutive_failures},
          {"failing_for_ms", pool.failing_for_ms},
          {"next_retry_in_ms", pool.next_retry_in_ms}}},
        {"limits",
         {{"min_idle_workers", c.pool.min_idle_workers},
          {"max_total_workers", c.pool.max_total_workers},
          {"worker_cpu", c.worker.cpu},
          {"worker_ram_mb", c.worker.ram_mb},
          {"worker_disk_mb", c.worker.disk_mb},
          {"execution_timeout_ms", c.execution.timeout.count()}}},
    };
    send_json(writer, 200, dump(body));
}

}  // namespace ci
