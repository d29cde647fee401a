#pragma once
// Every route the gateway answers, and the handlers behind them. A handler runs after the route
// was matched and the caller authenticated with the access the route needs; it answers through
// the writer, now or later from another thread.
#include <string_view>

#include <pistache/http.h>

#include "code_interpreter/plugin/auth_provider.hpp"
#include "config.hpp"
#include "mcp_sessions.hpp"
#include "request_fields.hpp"
#include "session_manager.hpp"
#include "url_files.hpp"
#include "worker_pool.hpp"

namespace ci {

class Metrics;

struct ApiServices {
    const GatewayConfig& config;
    const plugin::AuthProvider& auth;
    SessionManager& sessions;
    WorkerPool& pool;
    Metrics& metrics;
    UrlFileTransfers& transfers;
    mcp::Sessions& mcp;
};

using RouteHandler = void (*)(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&,
                              const Caller&);

enum class Access {
    open,   // no token
    user,   // the user or the admin token
    admin,  // the admin token
};

// What a route reads from a request's body, which bounds the body before it is read.
enum class Body {
    none,    // nothing (a few KiB are let through: some clients send an empty form)
    json,    // a JSON document: server.max_body_bytes
    upload,  // a file, raw or in a multipart form: files.max_upload_bytes and the form's framing
};

struct Route {
    std::string_view path;  // exact, without a trailing slash
    Pistache::Http::Method method;
    Access access;
    Body body;
    RouteHandler handler;
};

// The route table, in one place (http_api.cpp).
const std::vector<Route>& routes();

// routes_session.cpp
void handle_execute(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_release(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_execute_stream(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_interrupt(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
// routes_files.cpp
void handle_file_upload(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_file_download(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_file_export(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_file_list(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_file_delete(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
// routes_url_files.cpp: the original's JSON forms of POST /api/v1/files and /api/v1/files/export
void handle_url_import(const Pistache::Http::Request&, const nlohmann::json& body, Pistache::Http::ResponseWriter,
                       ApiServices&, const Caller&);
void handle_url_export(const Pistache::Http::Request&, const nlohmann::json& body, Pistache::Http::ResponseWriter,
                       ApiServices&, const Caller&);
// routes_status.cpp
void handle_status(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_health(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
// routes_console.cpp
void handle_console(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
// routes_metrics.cpp
void handle_metrics(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
// routes_mcp.cpp
void handle_mcp_post(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
void handle_mcp_delete(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);
// routes_openapi.cpp
void handle_openapi(const Pistache::Http::Request&, Pistache::Http::ResponseWriter, ApiServices&, const Caller&);

}  // namespace ci
