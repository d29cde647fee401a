// /mcp: the Model Context Protocol's Streamable HTTP transport (docs/mcp.md), tools only.
//
// POST carries one JSON-RPC message. initialize opens an MCP session (Mcp-Session-Id in the
// answer), which is one sandbox session: on a fresh user_uuid, or on the one the endpoint's URL
// names (?user_uuid=). Other requests name their session in that header (400 without it, 404 for
// an unknown one) and answer as JSON, except tools/call, which answers as an event stream so that
// progress notifications can come first. Notifications and responses get 202. DELETE ends the
// session and releases its sandbox session. GET has nothing to stream: 405 (the route table).
//
// Authentication is the REST API's (routes.hpp), so a token goes as Authorization: Bearer (what
// MCP clients send) or X-Auth-Token.
#include <atomic>
#include <functional>
#include <memory>
#include <set>

#include "agent_errors.hpp"
#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/base64.hpp"
#include "http_reply.hpp"
#include "mcp_content.hpp"
#include "mcp_protocol.hpp"
#include "mcp_sessions.hpp"
#include "routes.hpp"
#include "sse_stream.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;
using nlohmann::json;

namespace {

constexpr char kSessionHeader[] = "Mcp-Session-Id";

void send_rpc(ResponseWriter& writer, int status, const json& message) { send_json(writer, status, dump(message)); }

// A transport failure: an HTTP status and a JSON-RPC error without an id.
void refuse(ResponseWriter& writer, int status, int code, const std::string& message) {
    send_rpc(writer, status, mcp::rpc_error(nullptr, code, message));
}

std::string random_user_uuid() {
    std::string hex = crypto::random_hex(16);
    hex[12] = '4';
    hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];
    return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' + hex.substr(16, 4) + '-' +
           hex.substr(20);
}

// Sandbox sessions of MCP sessions unused past the idle timeout are released with them. Swept on
// every message (a pass over at most mcp.max_sessions entries), so an expired id is unknown at once.
void expire_idle(ApiServices& services) {
    const auto idle = services.config.pool.session_idle_timeout;
    if (idle.count() == 0) return;
    for (const auto& user : services.mcp.expire(idle)) services.sessions.release(user);
}

// One tools/call being answered on its event stream.
struct Call {
    mcp::Sessions& sessions;
    std::string session_id;
    std::string key;  // mcp::id_key of the request id
    json id;
    std::shared_ptr<SseStream> stream;

    void finish(const json& result) const {
        if (sessions.call_ended(session_id, key))
            stream->end();  // cancelled: the client expects no answer
        else
            stream->send_final("message", mcp::rpc_result(id, result));
    }
};

// An argument that must be a string when present.
std::optional<std::string> text_argument(const json& arguments, const char* name, std::string& problem) {
    const auto it = arguments.find(name);
    if (it == arguments.end()) return std::nullopt;
    if (!it->is_string()) {
        problem = std::string("\"") + name + "\" must be a string";
        return std::nullopt;
    }
    return it->get<std::string>();
}

json invalid_arguments(const std::string& why) {
    return mcp::failure_result({ErrorReason::bad_request, "invalid arguments: " + why});
}

void run_python(ApiServices& services, const std::string& user, const json& arguments, const json& params,
                const std::shared_ptr<Call>& call) {
    std::string problem;
    auto code = text_argument(arguments, "code", problem);
    if (!code) return call->finish(invalid_arguments(problem.empty() ? "\"code\" is required" : problem));
    ExecuteOptions options{.store_history = services.config.execution.store_history};
    if (auto token = mcp::progress_token(params)) {
        auto sent = std::make_shared<std::atomic<std::uint64_t>>(0);
        options.on_output = [stream = call->stream, token = *token, sent](const protocol::OutputItem& item) {
            if (auto text = mcp::progress_text(item)) stream->send("message", mcp::progress_notification(token, ++*sent, *text));
        };
    }
    services.sessions.execute(user, std::move(*code), std::move(options), [call](ExecutionOutcome outcome) {
        if (const auto* error = std::get_if<ApiError>(&outcome)) return call->finish(mcp::failure_result(*error));
        const auto& answer = std::get<ExecutionAnswer>(outcome);
        json result = mcp::execution_result(answer.result, answer.previous_session);
        if (answer.interrupted) {
            result["isError"] = true;
            result["content"].push_back({{"type", "text"},
                                         {"text", "[interrupted: the execution was stopped; the session and its "
                                                  "variables are kept]"}});
        }
        call->finish(result);
    });
}

// A file operation on the agent; on_reply turns its success into the tool's result.
void file_call(ApiServices& services, const std::string& user, protocol::Request request,
               const std::shared_ptr<Call>& call, std::function<json(const json& reply)> on_reply) {
    services.sessions.call_agent(
        user, std::move(request), services.config.files.timeout,
        [call, on_reply = std::move(on_reply)](AgentCallOutcome outcome) {
            if (const auto* error = std::get_if<ApiError>(&outcome)) return call->finish(mcp::failure_result(*error));
            const auto& answer = std::get<AgentCallAnswer>(outcome);
            if (!answer.ok) return call->finish(mcp::failure_result(file_error(answer.body)));
            try {
                call->finish(on_reply(answer.body));
            } catch (const json::exception& e) {
                call->finish(mcp::failure_result({ErrorReason::internal, std::string("malformed answer from the worker: ") + e.what()}));
            }
        });
}

// The workspace path argument, checked as the REST routes check it; nullopt after answering.
std::optional<std::string> path_argument(const json& arguments, bool required, const std::shared_ptr<Call>& call) {
    std::string problem;
    auto path = text_argument(arguments, "path", problem);
    if (!problem.empty()) {
        call->finish(invalid_arguments(problem));
        return std::nullopt;
    }
    if (!path && !required) return std::string(".");
    auto checked = path_field(json{{"path", path.value_or("")}}, std::nullopt);
    if (auto* error = std::get_if<ApiError>(&checked)) {
        call->finish(mcp::failure_result(*error));
        return std::nullopt;
    }
    return std::get<std::string>(checked);
}

void upload_file(ApiServices& services, const std::string& user, const json& arguments, const std::shared_ptr<Call>& call) {
    auto path = path_argument(arguments, true, call);
    if (!path) return;
    std::string problem;
    auto text = text_argument(arguments, "text", problem);
    auto base64 = text_argument(arguments, "base64", problem);
    if (!problem.empty()) return call->finish(invalid_arguments(problem));
    if (text.has_value() == base64.has_value()) return call->finish(invalid_arguments("give exactly one of \"text\" and \"base64\""));
    std::optional<std::string> data = text;
    if (base64) {
        data = protocol::base64_decode(*base64);
        if (!data) return call->finish(invalid_arguments("\"base64\" is not valid base64"));
    }
    const auto overwrite = arguments.find("overwrite");
    if (overwrite != arguments.end() && !overwrite->is_boolean()) return call->finish(invalid_arguments("\"overwrite\" must be a boolean"));
    const auto limit = services.config.files.max_upload_bytes;
    if (data->size() > limit)
        return call->finish(mcp::failure_result({ErrorReason::payload_too_large,
                                                 "the file of " + std::to_string(data->size()) +
                                                     " bytes exceeds files.max_upload_bytes = " + std::to_string(limit)}));
    protocol::FileWriteRequest op{.path = *path, .data = std::move(*data),
                                  .overwrite = overwrite == arguments.end() || overwrite->get<bool>()};
    file_call(services, user, std::move(op), call, [](const json& reply) {
        return mcp::text_result("wrote /sandbox/" + reply.at("file").at("path").get<std::string>() + " (" +
                                std::to_string(reply.at("file").at("size").get<std::uint64_t>()) + " bytes)");
    });
}

void download_file(ApiServices& services, const std::string& user, const json& arguments, const std::shared_ptr<Call>& call) {
    auto path = path_argument(arguments, true, call);
    if (!path) return;
    protocol::FileReadRequest op{.path = *path, .max_bytes = services.config.files.max_download_bytes};
    file_call(services, user, std::move(op), call, [](const json& reply) {
        auto bytes = protocol::base64_decode(reply.at("data_base64").get_ref<const std::string&>());
        if (!bytes) return mcp::failure_result({ErrorReason::internal, "the worker sent a file that is not valid base64"});
        return mcp::file_result(reply.at("file").at("path").get<std::string>(), *bytes);
    });
}

void list_files(ApiServices& services, const std::string& user, const json& arguments, const std::shared_ptr<Call>& call) {
    auto path = path_argument(arguments, false, call);
    if (!path) return;
    file_call(services, user, protocol::FileListRequest{*path}, call, [](const json& reply) {
        return mcp::text_result(dump({{"path", reply.at("path")}, {"entries", reply.at("entries")}}));
    });
}

// tools/call: answered on an event stream, whatever the tool.
void call_tool(ResponseWriter& writer, ApiServices& services, const std::string& session_id,
               const mcp::Sessions::Info& session, const mcp::Message& message) {
    const auto name = message.params.find("name");
    if (name == message.params.end() || !name->is_string())
        return send_rpc(writer, 200, mcp::rpc_error(message.id, mcp::kInvalidParams, "tools/call needs a tool \"name\""));
    const std::string tool = name->get<std::string>();
    static const std::set<std::string> kTools = {"run_python", "upload_file", "download_file", "list_files", "reset_session"};
    if (!kTools.count(tool))
        return send_rpc(writer, 200, mcp::rpc_error(message.id, mcp::kInvalidParams, "unknown tool: " + tool));
    const json arguments = message.params.value("arguments", json::object());
    auto call = std::make_shared<Call>(Call{services.mcp, session_id, mcp::id_key(message.id), message.id,
                                            std::make_shared<SseStream>(writer, services.config.server.stream_buffer_bytes)});
    services.mcp.call_started(session_id, call->key, tool == "run_python");
    if (!arguments.is_object()) return call->finish(invalid_arguments("\"arguments\" must be an object"));
    if (tool == "run_python") return run_python(services, session.user, arguments, message.params, call);
    if (tool == "upload_file") return upload_file(services, session.user, arguments, call);
    if (tool == "download_file") return download_file(services, session.user, arguments, call);
    if (tool == "list_files") return list_files(services, session.user, arguments, call);
    const bool released = services.sessions.release(session.user);
    call->finish(mcp::text_result(released ? "the Python session was reset: the next run_python starts a fresh kernel"
                                            : "there was no Python session to reset: the next run_python starts a fresh kernel"));
}

void initialize(const Request& request, ResponseWriter& writer, ApiServices& services, const Caller& caller,
                const mcp::Message& message) {
    const auto query = request.query().get("user_uuid");
    auto user = query ? session_owner(caller, json::object(), query)
                      : session_owner(caller, json{{"user_uuid", random_user_uuid()}}, std::nullopt);
    if (auto* error = std::get_if<ApiError>(&user))
        return send_rpc(writer, 400, mcp::rpc_error(message.id, mcp::kInvalidParams, error->message));
    const auto requested = message.params.find("protocolVersion");
    const std::string version =
        mcp::negotiate_version(requested != message.params.end() && requested->is_string() ? requested->get<std::string>() : "");
    auto id = services.mcp.open({caller.tenant, std::get<std::string>(user), version});
    if (!id)
        return send_rpc(writer, 503, mcp::rpc_error(message.id, mcp::kServerBusy,
                                                    "the gateway holds mcp.max_sessions MCP sessions; end one (DELETE) or retry later"));
    add_header(writer, kSessionHeader, *id);
    send_rpc(writer, 200, mcp::rpc_result(message.id, mcp::initialize_result(version, CI_VERSION)));
}

// The session a request names in Mcp-Session-Id, or nothing (after answering).
std::optional<std::pair<std::string, mcp::Sessions::Info>> named_session(const Request& request, ResponseWriter& writer,
                                                                         ApiServices& services, const Caller& caller) {
    const auto id = raw_header(request, kSessionHeader);
    if (!id) {
        refuse(writer, 400, mcp::kInvalidRequest, "Mcp-Session-Id header required (send initialize first)");
        return std::nullopt;
    }
    auto session = services.mcp.find(*id, caller.tenant);
    if (!session) {
        refuse(writer, 404, mcp::kInvalidRequest, "unknown or expired MCP session: send initialize again");
        return std::nullopt;
    }
    return std::make_pair(*id, std::move(*session));
}

bool endpoint_open(ResponseWriter& writer, ApiServices& services) {
    if (services.config.mcp.enabled) return true;
    refuse(writer, 404, mcp::kInvalidRequest, "the MCP endpoint is turned off (mcp.enabled)");
    return false;
}

}  // namespace

void handle_mcp_post(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    if (!endpoint_open(writer, services)) return;
    if (auto origin = raw_header(request, "Origin"); origin && !mcp::origin_allowed(*origin, services.config.server.cors_allowed_origins))
        return refuse(writer, 403, mcp::kInvalidRequest, "origin " + *origin + " is not allowed (server.cors_allowed_origins)");
    if (!mcp::is_json_content_type(raw_header(request, "Content-Type").value_or("")))
        return refuse(writer, 415, mcp::kInvalidRequest, "Content-Type must be application/json");
    if (!mcp::accepts_json_and_events(raw_header(request, "Accept").value_or("")))
        return refuse(writer, 406, mcp::kInvalidRequest, "Accept must list application/json and text/event-stream");
    const json body = json::parse(request.body(), nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return refuse(writer, 400, mcp::kParseError, "the body is not JSON");
    auto parsed = mcp::parse_message(body);
    if (const auto* failure = std::get_if<mcp::RpcFailure>(&parsed)) return refuse(writer, 400, failure->code, failure->message);
    const auto& message = std::get<mcp::Message>(parsed);
    expire_idle(services);
    if (message.kind == mcp::Message::Kind::request && message.method == "initialize")
        return initialize(request, writer, services, caller, message);

    auto named = named_session(request, writer, services, caller);
    if (!named) return;
    const auto& [session_id, session] = *named;
    if (auto version = raw_header(request, "MCP-Protocol-Version"); version && !mcp::supported_version(*version))
        return refuse(writer, 400, mcp::kInvalidRequest, "unsupported MCP-Protocol-Version " + *version);

    if (message.kind != mcp::Message::Kind::request) {
        if (message.method == "notifications/cancelled") {
            const auto cancelled = message.params.find("requestId");
            if (cancelled != message.params.end() && (cancelled->is_string() || cancelled->is_number_integer()) &&
                services.mcp.cancel(session_id, mcp::id_key(*cancelled)))
                services.sessions.interrupt_execution(session.user, [](std::variant<bool, ApiError>) {});
        }
        writer.send(Pistache::Http::Code::Accepted);
        return;
    }
    if (message.method == "ping") return send_rpc(writer, 200, mcp::rpc_result(message.id, json::object()));
    if (message.method == "tools/list")
        return send_rpc(writer, 200, mcp::rpc_result(message.id, {{"tools", mcp::tool_definitions()}}));
    if (message.method == "tools/call") return call_tool(writer, services, session_id, session, message);
    send_rpc(writer, 200, mcp::rpc_error(message.id, mcp::kMethodNotFound, "method not found: " + message.method));
}

void handle_mcp_delete(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    if (!endpoint_open(writer, services)) return;
    const auto id = raw_header(request, kSessionHeader);
    if (!id) return refuse(writer, 400, mcp::kInvalidRequest, "Mcp-Session-Id header required");
    auto user = services.mcp.close(*id, caller.tenant);
    if (!user) return refuse(writer, 404, mcp::kInvalidRequest, "unknown or expired MCP session");
    services.sessions.release(*user);
    writer.send(Pistache::Http::Code::No_Content);
}

}  // namespace ci
