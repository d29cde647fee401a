#include "http_api.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>

#include "cors.hpp"
#include "http_reply.hpp"
#include "log.hpp"
#include "metrics.hpp"

#include <pistache/peer.h>

namespace ci {

using Pistache::Http::Method;
using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

namespace {

const char* method_name(Method method) {
    switch (method) {
        case Method::Get: return "GET";
        case Method::Post: return "POST";
        case Method::Put: return "PUT";
        case Method::Delete: return "DELETE";
        case Method::Options: return "OPTIONS";
        default: return "?";
    }
}

std::optional<std::string> raw_header(const Request& request, const std::string& name) {
    if (auto raw = request.headers().tryGetRaw(name)) return raw->value();
    return std::nullopt;
}

// Adds the CORS headers a request from an allowed origin gets on its answer, whatever the answer
// (errors included: a page must be able to read why it failed). True when the origin is allowed.
bool add_cors_headers(const Request& request, ResponseWriter& writer, const std::vector<std::string>& allowed) {
    auto origin = raw_header(request, "Origin");
    if (!origin) return false;
    auto allow = cors_allow_origin(allowed, *origin);
    if (!allow) return false;
    writer.headers().add<TextHeader<kAllowOrigin>>(*allow);
    if (*allow != "*") writer.headers().add<TextHeader<kVary>>("Origin");
    writer.headers().add<TextHeader<kExposeHeaders>>("Retry-After, Content-Disposition");
    return true;
}

std::string method_list(const std::vector<Method>& methods) {
    std::string names;
    for (Method m : methods) names += std::string(names.empty() ? "" : ", ") + method_name(m);
    return names;
}

plugin::AuthRequest auth_request(const Request& request) {
    plugin::AuthRequest out;
    out.path = request.resource();
    auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return s;
    };
    // Pistache keeps the headers it knows both parsed and raw: each is passed once, as received.
    for (const auto& [name, raw] : request.headers().rawList()) out.headers.emplace_back(lower(raw.name()), raw.value());
    for (const auto& header : request.headers().list()) {
        std::string name = lower(header->name());
        bool passed = std::any_of(out.headers.begin(), out.headers.end(), [&](const auto& h) { return h.first == name; });
        if (passed) continue;
        std::ostringstream value;
        header->write(value);
        out.headers.emplace_back(std::move(name), value.str());
    }
    return out;
}

}  // namespace

// The seed's routes answer both bare and under /api/v1; API routes added since live under /api/v1
// only. The console, /metrics and /openapi.json sit at the root, where browsers and scrapers look.
const std::vector<Route>& routes() {
    static const std::vector<Route> table = {
        {"/execute", Method::Post, Access::user, handle_execute},
        {"/api/v1/execute", Method::Post, Access::user, handle_execute},
        {"/release", Method::Post, Access::user, handle_release},
        {"/api/v1/release", Method::Post, Access::user, handle_release},
        {"/status", Method::Get, Access::admin, handle_status},
        {"/api/v1/status", Method::Get, Access::admin, handle_status},
        {"/health", Method::Get, Access::open, handle_health},
        {"/api/v1/health", Method::Get, Access::open, handle_health},
        {"/api/v1/execute/stream", Method::Post, Access::user, handle_execute_stream},
        {"/api/v1/interrupt", Method::Post, Access::user, handle_interrupt},
        {"/api/v1/files", Method::Post, Access::user, handle_file_upload},
        {"/api/v1/files", Method::Get, Access::user, handle_file_download},
        {"/api/v1/files", Method::Delete, Access::user, handle_file_delete},
        {"/api/v1/files/list", Method::Get, Access::user, handle_file_list},
        {"/api/v1/files/export", Method::Post, Access::user, handle_file_export},
        {"/files", Method::Post, Access::user, handle_file_upload},  // the original's transfer by URL, bare too
        {"/files/export", Method::Post, Access::user, handle_file_export},
        {"/", Method::Get, Access::open, handle_console},  // the page only; its API calls carry the token
        {"/test.html", Method::Get, Access::open, handle_console},
        {"/metrics", Method::Get, Access::admin, handle_metrics},  // Prometheus' default scrape path
        {"/openapi.json", Method::Get, Access::open, handle_openapi},  // docs/openapi.json, compiled in
    };
    return table;
}

HttpApi::HttpApi(std::shared_ptr<ApiServices> services)
    : services_(std::move(services)),
      gate_(std::make_shared<ConnectionGate>(services_->config.server.max_connections)) {}

void HttpApi::onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
    // What Pistache's own (private) onConnection does: the peer's request parser.
    peer->putData(ParserData, std::make_shared<Pistache::Http::RequestParser>(getMaxRequestSize()));
    if (gate_->open.fetch_add(1) < gate_->max) return;
    // Over the cap: closed before a byte is read; the transport then reports the disconnection.
    ::shutdown(peer->fd(), SHUT_RDWR);
    const auto refused = gate_->refused.fetch_add(1) + 1;
    if (refused == 1 || refused % 1000 == 0)
        log_warn("refused a connection from " + peer->address().host() + ": " + std::to_string(gate_->max) +
                 " connections are open (server.max_connections); " + std::to_string(refused) + " refused so far");
}

void HttpApi::onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>&) { gate_->open.fetch_sub(1); }

void HttpApi::onRequest(const Request& request, ResponseWriter writer) {
    std::string_view path = request.resource();
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);

    const Route* match = nullptr;
    std::vector<Method> allowed;
    for (const auto& route : routes()) {
        if (route.path != path) continue;
        if (route.method == request.method()) match = &route;
        allowed.push_back(route.method);
    }
    const bool cross_origin = add_cors_headers(request, writer, services_->config.server.cors_allowed_origins);
    if (allowed.empty()) {
        send_error(writer, {ErrorReason::not_found, "no route " + request.resource()});
        return;
    }
    if (request.method() == Method::Options) {  // a browser's preflight, or a client asking
        allowed.push_back(Method::Options);
        writer.headers().add<Pistache::Http::Header::Allow>(allowed);
        if (cross_origin) {
            writer.headers().add<TextHeader<kAllowMethods>>(method_list(allowed));
            writer.headers().add<TextHeader<kAllowHeaders>>(
                cors_allow_headers(raw_header(request, "Access-Control-Request-Headers")));
            writer.headers().add<TextHeader<kMaxAge>>("600");
        }
        writer.send(Pistache::Http::Code::No_Content);
        return;
    }
    if (!match) {
        writer.headers().add<Pistache::Http::Header::Allow>(allowed);
        send_error(writer, {ErrorReason::method_not_allowed, std::string(path) + " only answers " + method_list(allowed)});
        return;
    }

    Caller caller;
    if (match->access != Access::open) {
        plugin::AuthDecision decision;
        try {
            decision = services_->auth.authenticate(auth_request(request));
        } catch (const std::exception& e) {
            log_error(std::string("auth plugin threw: ") + e.what());
            send_error(writer, {ErrorReason::internal, "authentication failed inside the gateway"});
            return;
        } catch (...) {
            log_error("auth plugin threw a non-standard exception");
            send_error(writer, {ErrorReason::internal, "authentication failed inside the gateway"});
            return;
        }
        if (!decision.allowed) {
            send_error(writer, {ErrorReason::unauthorized, "authentication required: " + decision.reason});
            return;
        }
        if (match->access == Access::admin && decision.role != plugin::Role::admin) {
            send_error(writer, {ErrorReason::forbidden, "this route needs the admin token"});
            return;
        }
        caller = Caller{std::move(decision.tenant), std::move(decision.principal)};
        services_->metrics.request_authenticated(caller.principal);
    }
    match->handler(request, std::move(writer), *services_, caller);
}

}  // namespace ci
