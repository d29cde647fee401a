// GET /openapi.json: the API's OpenAPI 3.0 description, docs/openapi.json compiled in at build time.
#include "openapi_document.hpp"
#include "routes.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

void handle_openapi(const Request&, ResponseWriter writer, ApiServices&, const Caller&) {
    writer.headers()
        .add<Pistache::Http::Header::ContentType>(MIME(Application, Json))
        .add<Pistache::Http::Header::CacheControl>(Pistache::Http::CacheDirective::NoCache);
    writer.send(Pistache::Http::Code::Ok, openapi_document::kJson.data(), openapi_document::kJson.size());
}

}  // namespace ci
