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

// The CORS headers a request from an allowed origin gets on its answer, whatever the answer
// (errors included: a page must be able to read why it failed); none for other requests.
std::vector<std::pair<const char*, std::string>> cors_headers(const Request& request,
                                                              const std::vector<std::string>& allowed) {
    auto origin = raw_header(request, "Origin");
    if (!origin) return {};
    auto allow = cors_allow_origin(allowed, *origin);
    if (!allow) return {};
    std::vector<std::pair<const char*, std::string>> out{{kAllowOrigin, *allow}};
    if (*allow != "*") out.emplace_back(kVary, "Origin");
    out.emplace_back(kExposeHeaders, "Retry-After, Content-Disposition, Mcp-Session-Id");
    return out;
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
        {"/execute", Method::Post, Access::user, Body::json, handle_execute},
        {"/api/v1/execute", Method::Post, Access::user, Body::json, handle_execute},
        {"/release", Method::Post, Access::user, Body::json, handle_release},
        {"/api/v1/release", Method::Post, Access::user, Body::json, handle_release},
        {"/status", Method::Get, Access::admin, Body::none, handle_status},
        {"/api/v1/status", Method::Get, Access::admin, Body::none, handle_status},
        {"/health", Method::Get, Access::open, Body::none, handle_health},
        {"/api/v1/health", Method::Get, Access::open, Body::none, handle_health},
        {"/api/v1/execute/stream", Method::Post, Access::user, Body::json, handle_execute_stream},
        {"/api/v1/interrupt", Method::Post, Access::user, Body::json, handle_interrupt},
        {"/api/v1/files", Method::Post, Access::user, Body::upload, handle_file_upload},
        {"/api/v1/files", Method::Get, Access::user, Body::none, handle_file_download},
        {"/api/v1/files", Method::Delete, Access::user, Body::json, handle_file_delete},
        {"/api/v1/files/list", Method::Get, Access::user, Body::none, handle_file_list},
        {"/api/v1/files/export", Method::Post, Access::user, Body::json, handle_file_export},
        {"/files", Method::Post, Access::user, Body::upload, handle_file_upload},  // the original's transfer by URL, bare too
        {"/files/export", Method::Post, Access::user, Body::json, handle_file_export},
        {"/", Method::Get, Access::open, Body::none, handle_console},  // the page only; its API calls carry the token
        {"/test.html", Method::Get, Access::open, Body::none, handle_console},
        {"/metrics", Method::Get, Access::admin, Body::none, handle_metrics},  // Prometheus' default scrape path
        {"/openapi.json", Method::Get, Access::open, Body::none, handle_openapi},  // docs/openapi.json, compiled in
        {"/mcp", Method::Post, Access::user, Body::json, handle_mcp_post},  // the MCP endpoint (docs/mcp.md)
        {"/mcp", Method::Delete, Access::user, Body::none, handle_mcp_delete},
    };
    return table;
}

// One per connection, in its Pistache peer's data. It holds the connection's place in the gate for
// as long as the peer lives: Pistache's timers drop peers without calling onDisconnection.
struct HttpApi::Connection {
    std::shared_ptr<ConnectionGate> gate;
    std::size_t request_bytes = 0;         // of the request being read
    std::optional<Screening> screening;    // of the request being read, once its head is complete
    bool continued = false;                // 100 Continue was sent for the request being read
    bool answering = false;                // the last request was handed on; its parser is reset when the next starts
    bool closing = false;                  // refused or over the cap: the rest is dropped unread
    ~Connection() {
        if (gate) gate->open.fetch_sub(1);
    }
};

namespace {

constexpr const char* kConnectionData = "ci.connection";
// A request head (request line and headers) larger than this is refused before its route is known.
constexpr std::size_t kMaxHeadBytes = 64 << 10;
// What a route that reads no body still lets through (some clients send an empty form).
constexpr std::size_t kSmallBodyBytes = 4 << 10;
// Room a multipart form takes around an upload's bytes: boundaries, part headers, form fields.
constexpr std::size_t kMultipartFramingBytes = 64 << 10;

std::size_t body_limit(Body body, const GatewayConfig& config) {
    switch (body) {
        case Body::none: return kSmallBodyBytes;
        case Body::json: return config.server.max_body_bytes;
        case Body::upload: return config.files.max_upload_bytes + kMultipartFramingBytes;
    }
    return kSmallBodyBytes;
}

// The body a request brings or has declared, as far as it is known: its Content-Length, or for a
// chunked body what has come so far (head included, so a little more than the body).
std::size_t body_size(const Request& request, std::size_t request_bytes, bool complete) {
    if (complete) return request.body().size();
    if (auto length = request.headers().tryGet<Pistache::Http::Header::ContentLength>()) return length->value();
    return request_bytes;
}

bool expects_continue(const Request& request) {
    auto expect = raw_header(request, "Expect");
    if (!expect) return false;
    std::string value = *expect;
    std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return value == "100-continue";
}

// HTTP/1.1 keeps a connection open unless the request says close; HTTP/1.0 closes it unless the
// request asks to keep it (RFC 9112, 9.3). Pistache's own handler closes whenever the header is
// absent, which made every HTTP/1.1 client without it (curl, urllib...) reconnect per request.
Pistache::Http::ConnectionControl connection_control(const Request& request) {
    if (auto header = request.headers().tryGet<Pistache::Http::Header::Connection>()) return header->control();
    return request.version() == Pistache::Http::Version::Http11 ? Pistache::Http::ConnectionControl::KeepAlive
                                                                : Pistache::Http::ConnectionControl::Close;
}

}  // namespace

std::size_t largest_request(const GatewayConfig& config) {
    return kMaxHeadBytes + std::max(body_limit(Body::json, config), body_limit(Body::upload, config));
}

HttpApi::HttpApi(std::shared_ptr<ApiServices> services)
    : services_(std::move(services)),
      gate_(std::make_shared<ConnectionGate>(services_->config.server.max_connections)) {}

void HttpApi::onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
    // What Pistache's own (private) onConnection does: the peer's request parser.
    peer->putData(ParserData, std::make_shared<Pistache::Http::RequestParser>(getMaxRequestSize()));
    auto connection = std::make_shared<Connection>();
    const bool over = gate_->open.fetch_add(1) >= gate_->max;
    connection->gate = gate_;
    peer->putData(kConnectionData, connection);
    if (!over) return;
    // Over the cap: closed before a byte is read; the transport then drops the peer.
    connection->closing = true;
    ::shutdown(peer->fd(), SHUT_RDWR);
    const auto refused = gate_->refused.fetch_add(1) + 1;
    if (refused == 1 || refused % 1000 == 0)
        log_warn("refused a connection from " + peer->address().host() + ": " + std::to_string(gate_->max) +
                 " connections are open (server.max_connections); " + std::to_string(refused) + " refused so far");
}

// Pistache's Http::Handler::onInput, with the screening of a request's head before its body. The
// parser is reset when the next request starts, not when this one is handed on: until then it
// stays in its body step, so Pistache's header timer (server.header_timeout) does not count the
// time an answer takes; its body timer is the longest request the configuration allows.
void HttpApi::onInput(const char* buffer, std::size_t len, const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
    auto connection = std::static_pointer_cast<Connection>(peer->getData(kConnectionData));
    if (connection->closing) return;
    auto parser = getParser(peer);
    if (connection->answering) {
        connection->answering = false;
        parser->reset();
        peer->setIdle(false);  // the header timer counts from this request's first byte
    }
    auto& request = parser->request;
    connection->request_bytes += len;
    try {
        if (!parser->feed(buffer, len)) {
            refuse(*connection, peer, request, nullptr,
                   {ErrorReason::payload_too_large, "the request is larger than the gateway reads"});
            return;
        }
        const auto state = parser->parse();
        const bool complete = state == Pistache::Http::Private::State::Done;
        if (!complete && parser->step()->id() != Pistache::Http::Private::BodyStep::Id) {
            if (connection->request_bytes > kMaxHeadBytes)
                refuse(*connection, peer, request, nullptr,
                       {ErrorReason::headers_too_large,
                        "the request line and headers take more than " + std::to_string(kMaxHeadBytes) + " bytes"});
            return;
        }
        if (!connection->screening) connection->screening = screen(request);
        Screening& screening = *connection->screening;
        const std::size_t body = body_size(request, connection->request_bytes, complete);
        if (!screening.refusal && body > screening.max_body)
            screening.refusal = ApiError{ErrorReason::payload_too_large,
                                         "this route reads a body of at most " + std::to_string(screening.max_body) +
                                             " bytes; this one has " + std::to_string(body) +
                                             (screening.route && screening.route->body == Body::upload
                                                  ? " (files.max_upload_bytes)"
                                                  : screening.route && screening.route->body == Body::json
                                                        ? " (server.max_body_bytes)"
                                                        : "")};
        if (!complete) {
            // Refused before its body is read: the unread rest could only be dropped, so the
            // connection goes with the answer.
            if (screening.refusal) {
                refuse(*connection, peer, request, &screening, *screening.refusal);
            } else if (!connection->continued && expects_continue(request)) {
                // curl and others wait for this (or a second) before sending a large body.
                connection->continued = true;
                static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
                peer->send(Pistache::RawBuffer(kContinue.data(), kContinue.size()));
            }
            return;
        }
        Pistache::Http::ResponseWriter writer(request.version(), transport(), this, peer);
        request.copyAddress(peer->address());
        writer.headers().add<Pistache::Http::Header::Connection>(connection_control(request));
        connection->request_bytes = 0;
        connection->continued = false;
        connection->answering = true;
        peer->setIdle(false);
        onRequest(request, std::move(writer));
    } catch (const Pistache::Http::HttpError& e) {
        refuse(*connection, peer, request, nullptr, {ErrorReason::bad_request, "malformed request: " + e.reason()});
    } catch (const std::exception& e) {
        log_error(std::string("reading a request failed: ") + e.what());
        refuse(*connection, peer, request, nullptr, {ErrorReason::internal, "the gateway failed to read the request"});
    }
}

void HttpApi::refuse(Connection& connection, const std::shared_ptr<Pistache::Tcp::Peer>& peer, const Request& head,
                     const Screening* screening, const ApiError& error) {
    connection.closing = true;
    const int status = http_status(error.reason);
    const std::string body = error_body(error);
    std::string answer = "HTTP/1.1 " + std::to_string(status) + " " +
                         Pistache::Http::codeString(static_cast<Pistache::Http::Code>(status)) +
                         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n";
    for (const auto& [name, value] : cors_headers(head, services_->config.server.cors_allowed_origins))
        answer += std::string(name) + ": " + value + "\r\n";
    if (screening && error.reason == ErrorReason::method_not_allowed)
        answer += "Allow: " + method_list(screening->allowed) + "\r\n";
    answer += "\r\n" + body;
    // Written here, on the connection's own thread, not queued: Pistache 0.0.5 drops a queued
    // write whose socket is readable at the same moment, as it is while a refused body keeps
    // coming. A few hundred bytes fit an empty socket buffer.
    ::send(peer->fd(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    // The client reads the answer, then the end; what it still sends is read and dropped (closing
    // without reading would reset the connection and could lose the answer). Marked idle, the
    // connection is dropped by Pistache's keep-alive timer if the client does not close it first.
    ::shutdown(peer->fd(), SHUT_WR);
    peer->setIdle(true);
}

Screening HttpApi::screen(const Request& head) const {
    Screening out;
    std::string_view path = head.resource();
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    for (const auto& route : routes()) {
        if (route.path != path) continue;
        if (route.method == head.method()) out.route = &route;
        out.allowed.push_back(route.method);
    }
    out.max_body = out.route ? body_limit(out.route->body, services_->config) : kSmallBodyBytes;
    if (out.allowed.empty()) {
        out.refusal = ApiError{ErrorReason::not_found, "no route " + head.resource()};
        return out;
    }
    if (head.method() == Method::Options) return out;  // a browser's preflight, or a client asking
    if (!out.route) {
        out.refusal = ApiError{ErrorReason::method_not_allowed, std::string(path) + " only answers " + method_list(out.allowed)};
        return out;
    }
    if (out.route->access == Access::open) return out;
    plugin::AuthDecision decision;
    try {
        decision = services_->auth.authenticate(auth_request(head));
    } catch (const std::exception& e) {
        log_error(std::string("auth plugin threw: ") + e.what());
        out.refusal = ApiError{ErrorReason::internal, "authentication failed inside the gateway"};
        return out;
    } catch (...) {
        log_error("auth plugin threw a non-standard exception");
        out.refusal = ApiError{ErrorReason::internal, "authentication failed inside the gateway"};
        return out;
    }
    if (!decision.allowed) {
        out.refusal = ApiError{ErrorReason::unauthorized, "authentication required: " + decision.reason};
        return out;
    }
    if (out.route->access == Access::admin && decision.role != plugin::Role::admin) {
        out.refusal = ApiError{ErrorReason::forbidden, "this route needs the admin token"};
        return out;
    }
    out.caller = Caller{std::move(decision.tenant), std::move(decision.principal)};
    services_->metrics.request_authenticated(out.caller.principal);
    return out;
}

// A complete request, screened by onInput when its head was.
void HttpApi::onRequest(const Request& request, ResponseWriter writer) {
    auto connection = std::static_pointer_cast<Connection>(writer.peer()->getData(kConnectionData));
    const Screening screening = std::move(*connection->screening);
    connection->screening.reset();
    const auto cors = cors_headers(request, services_->config.server.cors_allowed_origins);
    for (const auto& [name, value] : cors) add_header(writer, name, value);
    const bool cross_origin = !cors.empty();
    if (screening.refusal) {
        if (screening.refusal->reason == ErrorReason::method_not_allowed)
            writer.headers().add<Pistache::Http::Header::Allow>(screening.allowed);
        send_error(writer, *screening.refusal);
        return;
    }
    if (request.method() == Method::Options) {
        auto allowed = screening.allowed;
        allowed.push_back(Method::Options);
        writer.headers().add<Pistache::Http::Header::Allow>(allowed);
        if (cross_origin) {
            add_header(writer, kAllowMethods, method_list(allowed));
            add_header(writer, kAllowHeaders, cors_allow_headers(raw_header(request, "Access-Control-Request-Headers")));
            add_header(writer, kMaxAge, "600");
        }
        writer.send(Pistache::Http::Code::No_Content);
        return;
    }
    screening.route->handler(request, std::move(writer), *services_, screening.caller);
}

}  // namespace ci
