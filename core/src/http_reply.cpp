#include "http_reply.hpp"

#include <cstdio>

namespace ci {
namespace {

constexpr int kRetryAfterSeconds = 5;

}  // namespace

std::optional<std::string> raw_header(const Pistache::Http::Request& request, const std::string& name) {
    if (auto raw = request.headers().tryGetRaw(name)) return raw->value();
    return std::nullopt;
}

Pistache::Async::Promise<ssize_t> send_json(Pistache::Http::ResponseWriter& writer, int status, const std::string& body) {
    writer.headers().add<Pistache::Http::Header::ContentType>(MIME(Application, Json));
    return writer.send(static_cast<Pistache::Http::Code>(status), body);
}

Pistache::Async::Promise<ssize_t> send_error(Pistache::Http::ResponseWriter& writer, const ApiError& error) {
    if (error.reason == ErrorReason::pool_exhausted)
        add_header(writer, kRetryAfter, std::to_string(kRetryAfterSeconds));
    return send_json(writer, http_status(error.reason), error_body(error));
}

ApiError in_terms_of(Dialect dialect, ApiError error) {
    const bool validation = error.reason == ErrorReason::bad_request || error.reason == ErrorReason::invalid_path;
    if (dialect == Dialect::original && validation) error.reason = ErrorReason::validation_failed;
    return error;
}

std::string attachment_disposition(std::string_view path) {
    std::size_t slash = path.find_last_of('/');
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (name.empty() || name == "." || name == "..") name = "download";
    std::string ascii;
    std::string encoded;
    for (unsigned char c : name) {
        bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%';
        ascii.push_back(plain ? static_cast<char>(c) : '_');
        bool unreserved = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' ||
                          c == '-' || c == '_';
        if (unreserved) {
            encoded.push_back(static_cast<char>(c));
        } else {
            char escape[4];
            std::snprintf(escape, sizeof escape, "%%%02X", c);
            encoded += escape;
        }
    }
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace ci
