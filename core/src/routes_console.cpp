// GET / and GET /test.html: the browser console, a page embedded at build time (core/web/).
#include <string>
#include <string_view>

#include "console_page.hpp"
#include "routes.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

namespace {

// Pistache writes only typed headers into a response, so the policy needs a type of its own.
class ContentSecurityPolicy final : public Pistache::Http::Header::Header {
public:
    NAME("Content-Security-Policy")
    ContentSecurityPolicy() = default;
    explicit ContentSecurityPolicy(std::string policy) : policy_(std::move(policy)) {}
    void parse(const std::string& data) override { policy_ = data; }
    void write(std::ostream& os) const override { os << policy_; }

private:
    std::string policy_;
};

// CSP names a hash in base64; the build gives it in hex.
std::string hex_to_base64(std::string_view hex) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        unsigned chunk = static_cast<unsigned char>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
        out.push_back(kAlphabet[(chunk >> 18) & 63]);
        out.push_back(kAlphabet[(chunk >> 12) & 63]);
        out.push_back(i + 1 < bytes.size() ? kAlphabet[(chunk >> 6) & 63] : '=');
        out.push_back(i + 2 < bytes.size() ? kAlphabet[chunk & 63] : '=');
    }
    return out;
}

// The page runs only its own inline script and style (by hash), talks only to this gateway,
// shows images only from data: URLs (the answers' PNG and SVG), and cannot be framed.
const std::string& console_policy() {
    static const std::string policy =
        "default-src 'none'; script-src 'sha256-" + hex_to_base64(console_page::kScriptSha256Hex) +
        "'; style-src 'sha256-" + hex_to_base64(console_page::kStyleSha256Hex) +
        "'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    return policy;
}

}  // namespace

void handle_console(const Request&, ResponseWriter writer, ApiServices&) {
    auto html = Pistache::Http::Mime::MediaType::fromString("text/html; charset=utf-8");
    writer.headers()
        .add<Pistache::Http::Header::ContentType>(html)
        .add<ContentSecurityPolicy>(console_policy())
        .add<Pistache::Http::Header::CacheControl>(Pistache::Http::CacheDirective::NoCache);
    writer.send(Pistache::Http::Code::Ok, console_page::kPage.data(), console_page::kPage.size());
}

}  // namespace ci
