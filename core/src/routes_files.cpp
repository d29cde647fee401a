// The session's workspace (the kernel's home and working directory) over HTTP.
//
// Every route names user_uuid and a path relative to the workspace. A user without a session gets
// one (the JSON answers say new_session: true, as /execute's do). The worker's agent serves file
// operations beside the executions: they never wait behind a running one, and a refused operation
// (a missing file, a path leaving the workspace) leaves the worker alone. Refusals are the usual
// JSON error body (plus new_session and previous_session), statuses as in agent_errors.hpp.
//
// The same POST routes also take the original project's JSON bodies (a "files" array) for its file
// transfer by URL: routes_url_files.cpp.
//
// Paths are relative to the workspace, or the original's absolute /sandbox/... form.
//
//   POST   /api/v1/files  upload, either multipart/form-data with a part named "file" and the fields
//          user_uuid, path (default: the file part's filename) and overwrite (default true), or the
//          raw bytes as the body with ?user_uuid=&path=[&overwrite=]; missing parent directories
//          are made. -> {path, size, new_session, previous_session}; 413 payload_too_large above
//          files.max_upload_bytes, 409 file_exists when overwrite is false.
//   GET    /api/v1/files?user_uuid=&path=  download: the bytes as application/octet-stream with
//          Content-Disposition: attachment; 413 above files.max_download_bytes.
//   POST   /api/v1/files/export {user_uuid, path}  the same file for JSON-only clients (an LLM tool
//          call, the seed's style of API): -> {path, size, data_base64, new_session,
//          previous_session}. JSON rather than raw bytes because a client choosing a POST with a
//          JSON body wants a JSON answer, and base64 keeps binary files intact inside it; the GET
//          route above is the raw form.
//   GET    /api/v1/files/list?user_uuid=[&path=.]  -> {path, entries: [{name, type ("file",
//          "directory", "symlink", "other"), size, modified_unix_ms}], new_session, previous_session}
//   DELETE /api/v1/files {user_uuid, path, recursive?} (or the same in the query)
//          -> {status: "ok", path, new_session, previous_session}; a directory needs recursive.
#include <functional>
#include <memory>
#include <optional>

#include "code_interpreter/protocol/base64.hpp"
#include "agent_errors.hpp"
#include "http_reply.hpp"
#include "multipart.hpp"
#include "request_fields.hpp"
#include "result_format.hpp"
#include "routes.hpp"
#include "url_file_requests.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

namespace {

// Builds and sends the 200 answer from the agent's reply and the session fields.
using OnReply = std::function<void(ResponseWriter&, const nlohmann::json& reply, nlohmann::json body)>;

// Sends request to user's agent; answers its refusal as an error (limit_note is added to a
// too_large one) and its success through on_reply.
void call_agent(ApiServices& services, const std::string& user, protocol::Request request, ResponseWriter writer,
                std::string limit_note, OnReply on_reply) {
    auto shared_writer = std::make_shared<ResponseWriter>(std::move(writer));
    services.sessions.call_agent(
        user, std::move(request), services.config.files.timeout,
        [shared_writer, limit_note = std::move(limit_note), on_reply = std::move(on_reply)](AgentCallOutcome outcome) {
            if (auto* error = std::get_if<ApiError>(&outcome)) {
                send_error(*shared_writer, *error);
                return;
            }
            const auto& answer = std::get<AgentCallAnswer>(outcome);
            nlohmann::json session = session_fields(answer.new_session, answer.previous_session);
            if (!answer.ok) {
                ApiError error = file_error(answer.body);
                if (error.reason == ErrorReason::payload_too_large) error.message += limit_note;
                error.details = std::move(session);
                send_error(*shared_writer, error);
                return;
            }
            try {
                on_reply(*shared_writer, answer.body, std::move(session));
            } catch (const nlohmann::json::exception& e) {
                send_error(*shared_writer,
                           {ErrorReason::internal, std::string("malformed answer from the worker: ") + e.what()});
            }
        });
}

std::string limit_note(const char* setting, std::uint64_t limit) {
    return "; the gateway's limit is " + std::string(setting) + " = " + std::to_string(limit) + " bytes";
}

// A multipart boundary parameter may be quoted.
std::string unquoted(std::string text) {
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') return text.substr(1, text.size() - 2);
    return text;
}

struct Upload {
    nlohmann::json fields = nlohmann::json::object();  // the form's text fields
    std::string_view data;                             // points into the request's body
    std::optional<std::string> filename;
};

// The upload's bytes and form fields: a multipart form's "file" part, or the whole body.
std::variant<Upload, ApiError> upload_of(const Request& request) {
    Upload upload;
    upload.data = request.body();
    auto content_type = request.headers().tryGet<Pistache::Http::Header::ContentType>();
    if (!content_type || content_type->mime() != MIME(Multipart, FormData)) return upload;
    auto boundary = content_type->mime().getParam("boundary");
    if (!boundary) return ApiError{ErrorReason::bad_request, "multipart/form-data needs a boundary parameter"};
    auto parsed = parse_multipart(request.body(), unquoted(*boundary));
    if (auto* error = std::get_if<ApiError>(&parsed)) return *error;
    bool have_file = false;
    for (const auto& part : std::get<std::vector<FormPart>>(parsed)) {
        if (part.name != "file") {
            upload.fields[part.name] = std::string(part.data);
            continue;
        }
        if (have_file) return ApiError{ErrorReason::bad_request, "an upload takes one part named file"};
        have_file = true;
        upload.data = part.data;
        upload.filename = part.filename;
    }
    if (!have_file) return ApiError{ErrorReason::bad_request, "a multipart upload needs a part named file"};
    return upload;
}

// The original's form of a POST: not a multipart form, not a raw upload (which names its path in
// the query), but a JSON object with "files".
std::optional<nlohmann::json> url_transfer_body(const Request& request, std::size_t max_body_bytes) {
    auto content_type = request.headers().tryGet<Pistache::Http::Header::ContentType>();
    if (content_type && content_type->mime() == MIME(Multipart, FormData)) return std::nullopt;
    if (request.query().has("path") || request.body().size() > max_body_bytes) return std::nullopt;
    auto body = nlohmann::json::parse(request.body(), nullptr, /*allow_exceptions=*/false);
    if (!is_url_transfer_body(body)) return std::nullopt;
    return body;
}

}  // namespace

void handle_file_upload(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    if (auto body = url_transfer_body(request, services.config.server.max_body_bytes)) {
        handle_url_import(request, *body, std::move(writer), services, caller);
        return;
    }
    const auto& query = request.query();
    auto upload = or_answer(upload_of(request), writer);
    if (!upload) return;
    auto user = or_answer(session_owner(caller, upload->fields, query.get("user_uuid")), writer);
    if (!user) return;
    if (!upload->fields.contains("path") && !query.has("path") && upload->filename)
        upload->fields["path"] = *upload->filename;
    auto path = or_answer(path_field(upload->fields, query.get("path")), writer);
    if (!path) return;
    auto overwrite = or_answer(flag_field(upload->fields, query.get("overwrite"), "overwrite", true), writer);
    if (!overwrite) return;
    const auto limit = services.config.files.max_upload_bytes;
    if (upload->data.size() > limit) {
        send_error(writer, {ErrorReason::payload_too_large, "the file of " + std::to_string(upload->data.size()) +
                                                                " bytes exceeds the upload limit" +
                                                                limit_note("files.max_upload_bytes", limit)});
        return;
    }
    protocol::FileWriteRequest op{.path = *path, .data = std::string(upload->data), .overwrite = *overwrite};
    call_agent(services, *user, std::move(op), std::move(writer), limit_note("files.max_upload_bytes", limit),
               [](ResponseWriter& out, const nlohmann::json& reply, nlohmann::json body) {
                   body["path"] = reply.at("file").at("path");
                   body["size"] = reply.at("file").at("size");
                   send_json(out, 200, dump(body));
               });
}

void handle_file_download(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    const auto& query = request.query();
    auto user = or_answer(session_owner(caller, nlohmann::json::object(), query.get("user_uuid")), writer);
    if (!user) return;
    auto path = or_answer(path_field(nlohmann::json::object(), query.get("path")), writer);
    if (!path) return;
    const auto limit = services.config.files.max_download_bytes;
    protocol::FileReadRequest op{.path = *path, .max_bytes = limit};
    call_agent(services, *user, std::move(op), std::move(writer), limit_note("files.max_download_bytes", limit),
               [](ResponseWriter& out, const nlohmann::json& reply, nlohmann::json) {
                   auto bytes = protocol::base64_decode(reply.at("data_base64").get_ref<const std::string&>());
                   if (!bytes) {
                       send_error(out, {ErrorReason::internal, "the worker sent a file that is not valid base64"});
                       return;
                   }
                   add_header(out, kContentDisposition,
                              attachment_disposition(reply.at("file").at("path").get_ref<const std::string&>()));
                   out.send(Pistache::Http::Code::Ok, bytes->data(), bytes->size(), MIME(Application, OctetStream));
               });
}

void handle_file_export(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    auto body = or_answer(parse_body(request.body(), services.config.server.max_body_bytes), writer);
    if (!body) return;
    if (is_url_transfer_body(*body)) {
        handle_url_export(request, *body, std::move(writer), services, caller);
        return;
    }
    auto user = or_answer(session_owner(caller, *body, request.query().get("user_uuid")), writer);
    if (!user) return;
    auto path = or_answer(path_field(*body, request.query().get("path")), writer);
    if (!path) return;
    const auto limit = services.config.files.max_download_bytes;
    protocol::FileReadRequest op{.path = *path, .max_bytes = limit};
    call_agent(services, *user, std::move(op), std::move(writer), limit_note("files.max_download_bytes", limit),
               [](ResponseWriter& out, const nlohmann::json& reply, nlohmann::json answer) {
                   answer["path"] = reply.at("file").at("path");
                   answer["size"] = reply.at("file").at("size");
                   answer["data_base64"] = reply.at("data_base64");
                   send_json(out, 200, dump(answer));
               });
}

void handle_file_list(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    const auto& query = request.query();
    auto user = or_answer(session_owner(caller, nlohmann::json::object(), query.get("user_uuid")), writer);
    if (!user) return;
    std::optional<std::string> path = ".";
    if (query.has("path")) path = or_answer(path_field(nlohmann::json::object(), query.get("path")), writer);
    if (!path) return;
    call_agent(services, *user, protocol::FileListRequest{*path}, std::move(writer), "",
               [](ResponseWriter& out, const nlohmann::json& reply, nlohmann::json body) {
                   body["path"] = reply.at("path");
                   body["entries"] = reply.at("entries");
                   send_json(out, 200, dump(body));
               });
}

void handle_file_delete(const Request& request, ResponseWriter writer, ApiServices& services, const Caller& caller) {
    const auto& query = request.query();
    auto body = or_answer(parse_body(request.body(), services.config.server.max_body_bytes), writer);
    if (!body) return;
    auto user = or_answer(session_owner(caller, *body, query.get("user_uuid")), writer);
    if (!user) return;
    auto path = or_answer(path_field(*body, query.get("path")), writer);
    if (!path) return;
    auto recursive = or_answer(flag_field(*body, query.get("recursive"), "recursive", false), writer);
    if (!recursive) return;
    call_agent(services, *user, protocol::FileDeleteRequest{*path, *recursive}, std::move(writer), "",
               [path = *path](ResponseWriter& out, const nlohmann::json&, nlohmann::json body) {
                   body["status"] = "ok";
                   body["path"] = path;
                   send_json(out, 200, dump(body));
               });
}

}  // namespace ci
