// GET /metrics (admin): counters, histograms and the pool's gauges for Prometheus.
#include "metrics.hpp"
#include "routes.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

void handle_metrics(const Request&, ResponseWriter writer, ApiServices& services, const Caller&) {
    std::string body = render_prometheus(services.metrics.snapshot(services.pool.stats(), services.sessions.stats()));
    writer.headers().add<Pistache::Http::Header::ContentType>(Pistache::Http::Mime::MediaType(kPrometheusContentType));
    writer.send(Pistache::Http::Code::Ok, body);
}

}  // namespace ci
