#include "http_api.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "http_reply.hpp"
#include "log.hpp"

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
        default: return "?";
    }
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
        {"/", Method::Get, Access::open, handle_console},  // the page only; its API calls carry the token
        {"/test.html", Method::Get, Access::open, handle_console},
        {"/metrics", Method::Get, Access::admin, handle_metrics},  // Prometheus' default scrape path
        {"/openapi.json", Method::Get, Access::open, handle_openapi},  // docs/openapi.json, compiled in
    };
    return table;
}

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
    if (allowed.empty()) {
        send_error(writer, {ErrorReason::not_found, "no route " + request.resource()});
        return;
    }
    if (!match) {
        std::string names;
        for (Method m : allowed) names += std::string(names.empty() ? "" : ", ") + method_name(m);
        writer.headers().add<Pistache::Http::Header::Allow>(allowed);
        send_error(writer, {ErrorReason::method_not_allowed, std::string(path) + " only answers " + names});
        return;
    }

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
    }
    match->handler(request, std::move(writer), *services_);
}

}  // namespace ci
