// The original project's file transfer by URL, on the routes our own file API shares with it
// (routes_files.cpp hands a JSON body with a "files" array over to these):
//
//   POST /api/v1/files?user_uuid=U         {"files": [{"download_url", "path", "name"}, ...]}
//        -> 201 {"success": true, "results": [{"full_path", "size"}, ...], new_session, previous_session}
//   POST /api/v1/files/export?user_uuid=U  {"files": [{"path", "name", "upload_url", "upload_fields"?}, ...]}
//        -> 200 {"success": true, "results": [{"path", "name", "size"}, ...], new_session, previous_session}
//
// Checks as url_file_requests.hpp says (422 validation_failed), URLs as url_policy.hpp says (422
// url_refused). When some files fail, the answer has the first failed file's status and reason
// and lists what happened to every file: "results" (those that moved) and "failed" ({index, path,
// name, reason, detail}), so a caller knows which files arrived.
#include <chrono>
#include <future>
#include <memory>
#include <mutex>

#include "agent_errors.hpp"
#include "http_reply.hpp"
#include "request_fields.hpp"
#include "result_format.hpp"
#include "routes.hpp"
#include "url_files.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

namespace {

// Whether the transfer started the session, as the call that started it said (the files move in
// parallel: that call's answer need not come first).
struct SessionNote {
    std::mutex mu;
    bool new_session = false;
    std::string previous_session;

    void record(const AgentCallAnswer& answer) {
        if (!answer.new_session) return;
        std::lock_guard lock(mu);
        new_session = true;
        previous_session = answer.previous_session;
    }
    nlohmann::json fields() {
        std::lock_guard lock(mu);
        return session_fields(new_session, previous_session);
    }
};

// A blocking file request to the user's agent, for a transfer thread.
WorkspaceCall session_workspace(ApiServices& services, std::string user, std::shared_ptr<SessionNote> note) {
    const auto timeout = services.config.files.timeout;
    // call_agent answers every call (its own timeout covers the worker); this bound only guards
    // a transfer thread against a lost answer.
    const auto bound = timeout + services.config.pool.acquire_timeout + std::chrono::seconds(30);
    return [&sessions = services.sessions, user = std::move(user), note, timeout,
            bound](protocol::Request request) -> std::variant<nlohmann::json, ApiError> {
        auto promise = std::make_shared<std::promise<AgentCallOutcome>>();
        auto answered = promise->get_future();
        sessions.call_agent(user, std::move(request), timeout,
                            [promise](AgentCallOutcome outcome) { promise->set_value(std::move(outcome)); });
        if (answered.wait_for(bound) != std::future_status::ready)
            return ApiError{ErrorReason::internal, "the session gave no answer to a file request"};
        AgentCallOutcome outcome = answered.get();
        if (auto* error = std::get_if<ApiError>(&outcome)) return std::move(*error);
        auto& answer = std::get<AgentCallAnswer>(outcome);
        note->record(answer);
        if (!answer.ok) return file_error(answer.body);
        return std::move(answer.body);
    };
}

template <class Item, class Describe>
void answer_transfers(ResponseWriter& writer, int success_status, const std::vector<Item>& files,
                      const std::variant<std::vector<FileTransferOutcome>, ApiError>& result, SessionNote& note,
                      Describe describe) {
    if (auto* error = std::get_if<ApiError>(&result)) {
        ApiError failed = in_terms_of(Dialect::original, *error);
        failed.details = note.fields();
        send_error(writer, failed);
        return;
    }
    const auto& outcomes = std::get<std::vector<FileTransferOutcome>>(result);
    nlohmann::json results = nlohmann::json::array();
    nlohmann::json failed = nlohmann::json::array();
    std::optional<ApiError> first;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto& outcome = outcomes[i];
        if (!outcome.error) {
            results.push_back(describe(files[i], outcome.size));
            continue;
        }
        ApiError error = in_terms_of(Dialect::original, *outcome.error);
        failed.push_back({{"index", i},
                          {"path", files[i].file.request_path},
                          {"name", files[i].file.name},
                          {"reason", reason_code(error.reason)},
                          {"detail", error.message}});
        if (!first) {
            first = error;
            first->message = "files[" + std::to_string(i) + "] (" + files[i].file.name + "): " + error.message;
        }
    }
    nlohmann::json body = note.fields();
    if (!first) {
        body["success"] = true;
        body["results"] = std::move(results);
        send_json(writer, success_status, dump(body));
        return;
    }
    first->message += "; " + std::to_string(results.size()) + " of " + std::to_string(files.size()) +
                      " files were transferred (see \"results\" and \"failed\")";
    body["success"] = false;
    body["results"] = std::move(results);
    body["failed"] = std::move(failed);
    first->details = std::move(body);
    send_error(writer, *first);
}

// Checks the body as the original does, runs the transfer and answers with success_status and
// describe(file, size) per file that moved.
template <class Item, class Parse, class Run, class Describe>
void transfer(const Request& request, const nlohmann::json& body, ResponseWriter writer, ApiServices& services,
              const Caller& caller, Parse parse, Run run, int success_status, Describe describe) {
    auto user = or_answer(session_owner(caller, body, request.query().get("user_uuid")), writer, Dialect::original);
    if (!user) return;
    auto files = or_answer(parse(body), writer, Dialect::original);
    if (!files) return;
    auto shared_files = std::make_shared<std::vector<Item>>(std::move(*files));
    auto note = std::make_shared<SessionNote>();
    auto shared_writer = std::make_shared<ResponseWriter>(std::move(writer));
    run(*shared_files, session_workspace(services, *user, note),
        [shared_writer, shared_files, note, success_status, describe](auto result) {
            answer_transfers(*shared_writer, success_status, *shared_files, result, *note, describe);
        });
}

}  // namespace

void handle_url_import(const Request& request, const nlohmann::json& body, ResponseWriter writer,
                       ApiServices& services, const Caller& caller) {
    transfer<UrlImport>(
        request, body, std::move(writer), services, caller, parse_url_imports,
        [&](auto files, auto workspace, auto done) { services.transfers.import_files(files, workspace, done); }, 201,
        [](const UrlImport& file, std::uint64_t size) {
            return nlohmann::json{{"full_path", file.file.absolute}, {"size", size}};
        });
}

void handle_url_export(const Request& request, const nlohmann::json& body, ResponseWriter writer,
                       ApiServices& services, const Caller& caller) {
    transfer<UrlExport>(
        request, body, std::move(writer), services, caller, parse_url_exports,
        [&](auto files, auto workspace, auto done) { services.transfers.export_files(files, workspace, done); }, 200,
        [](const UrlExport& file, std::uint64_t size) {
            return nlohmann::json{{"path", file.file.request_path}, {"name", file.file.name}, {"size", size}};
        });
}

}  // namespace ci
