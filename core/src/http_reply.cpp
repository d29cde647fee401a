#include "http_reply.hpp"

namespace ci {
namespace {

constexpr int kRetryAfterSeconds = 5;

}  // namespace

void send_json(Pistache::Http::ResponseWriter& writer, int status, const std::string& body) {
    writer.headers().add<Pistache::Http::Header::ContentType>(MIME(Application, Json));
    writer.send(static_cast<Pistache::Http::Code>(status), body);
}

void send_error(Pistache::Http::ResponseWriter& writer, const ApiError& error) {
    if (error.reason == ErrorReason::pool_exhausted)
        writer.headers().add<TextHeader<kRetryAfter>>(std::to_string(kRetryAfterSeconds));
    send_json(writer, http_status(error.reason), error_body(error));
}

ApiError in_terms_of(Dialect dialect, ApiError error) {
    const bool validation = error.reason == ErrorReason::bad_request || error.reason == ErrorReason::invalid_path;
    if (dialect == Dialect::original && validation) error.reason = ErrorReason::validation_failed;
    return error;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace ci
