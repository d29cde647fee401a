// GET / and GET /test.html: the browser console, a page embedded at build time (core/web/).
#include <string>
#include <string_view>

#include "code_interpreter/protocol/base64.hpp"
#include "console_page.hpp"
#include "http_reply.hpp"
#include "routes.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

namespace {

// CSP names a hash in base64; the build gives it in hex.
std::string hex_to_base64(std::string_view hex) {
    std::string bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return protocol::base64_encode(bytes);
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

void handle_console(const Request&, ResponseWriter writer, ApiServices&, const Caller&) {
    auto html = Pistache::Http::Mime::MediaType::fromString("text/html; charset=utf-8");
    writer.headers()
        .add<Pistache::Http::Header::ContentType>(html)
        .add<Pistache::Http::Header::CacheControl>(Pistache::Http::CacheDirective::NoCache);
    add_header(writer, kContentSecurityPolicy, console_policy());
    writer.send(Pistache::Http::Code::Ok, console_page::kPage.data(), console_page::kPage.size());
}

}  // namespace ci
