#include "http_reply.hpp"

namespace ci {
namespace {

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

}  // namespace

void send_json(Pistache::Http::ResponseWriter& writer, int status, const std::string& body) {
    writer.headers().add<Pistache::Http::Header::ContentType>(MIME(Application, Json));
    writer.send(static_cast<Pistache::Http::Code>(status), body);
}

void send_error(Pistache::Http::ResponseWriter& writer, const ApiError& error) {
    if (error.reason == ErrorReason::pool_exhausted) writer.headers().add<RetryAfter>(kRetryAfterSeconds);
    send_json(writer, http_status(error.reason), error_body(error));
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace ci
