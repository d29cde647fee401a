#include "gateway.hpp"

#include <algorithm>
#include <cstdint>

#include "code_interpreter/protocol/agent_protocol.hpp"
#include "log.hpp"

namespace ci {

Gateway::Gateway(GatewayConfig config, LoadedPlugins plugins)
    : config_(std::move(config)),
      plugins_(std::move(plugins)),
      // Blocking backend calls: the creations allowed at once, plus room for destroys and inspects.
      tasks_(config_.pool.create_concurrency + 2),
      hub_(protocol::max_reply_bytes(config_.execution.max_output_bytes)),
      pool_(config_.pool, config_.worker, *plugins_.isolation, plugins_.storage.get(), hub_, tasks_, metrics_),
      sessions_(config_.execution, config_.pool, pool_, hub_, tasks_, metrics_),
      transfer_threads_(config_.files.url_transfer_threads),
      transfers_(UrlPolicy{config_.files.url_ssrf_protection, config_.files.url_allowed_private_hosts},
                 TransferSettings{.connect_timeout = config_.files.url_connect_timeout,
                                  .total_timeout = config_.files.url_timeout,
                                  .max_bytes = config_.files.url_max_file_bytes},
                 transfer_threads_),
      mcp_sessions_(config_.mcp.max_sessions) {}

Gateway::~Gateway() { stop(); }

void Gateway::start() {
    sessions_.start(pool_.start());

    Pistache::Address address(config_.server.host, Pistache::Port(config_.server.port));
    endpoint_ = std::make_unique<Pistache::Http::Endpoint>(address);
    auto options = Pistache::Http::Endpoint::options()
                       .threads(config_.server.threads)
                       .flags(Pistache::Tcp::Options::ReuseAddr)
                       // Each route's own limit is checked from the request's head (HttpApi);
                       // this only sizes the parser's buffer for the largest.
                       .maxRequestSize(largest_request(config_))
                       // An execute answer holds its output about three times over (result_text,
                       // stdout/stderr and outputs); a download holds the file, as base64 for export.
                       .maxResponseSize(std::max<std::uint64_t>(config_.execution.max_output_bytes * 4,
                                                                config_.files.max_download_bytes * 2) +
                                        1024 * 1024)
                       // Pistache's body timer runs until the answer (HttpApi::onInput keeps
                       // the parser in its body step meanwhile): it must outlast every
                       // legitimate wait. Its header timer runs until a request's head is in.
                       .headerTimeout(config_.server.header_timeout)
                       .bodyTimeout(longest_request(config_))
                       .keepaliveTimeout(config_.server.keepalive_timeout);
    endpoint_->init(options);
    auto services =
        std::make_shared<ApiServices>(ApiServices{config_, *plugins_.auth, sessions_, pool_, metrics_, transfers_, mcp_sessions_});
    endpoint_->setHandler(std::make_shared<HttpApi>(services));
    try {
        endpoint_->serveThreaded();
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot listen on " + config_.server.host + ":" +
                                 std::to_string(config_.server.port) + ": " + e.what());
    }
    log_info("listening on http://" + config_.server.host + ":" + std::to_string(port()));
}

std::uint16_t Gateway::port() const { return endpoint_ ? static_cast<std::uint16_t>(endpoint_->getPort()) : 0; }

void Gateway::stop() {
    if (stopped_) return;
    stopped_ = true;
    // Transfers by URL stop at once (answered shutting_down): one may take minutes.
    transfers_.cancel();
    // Sessions first, while the HTTP server still runs: new requests are refused (503
    // shutting_down), running ones get drain_timeout to finish, and what is still running then is
    // answered instead of being dropped with the endpoint.
    sessions_.drain(config_.pool.drain_timeout);
    // Removing a worker takes a fraction of a second and a few run at once: a large pool needs
    // longer than a small one, and the bound only guards against a backend that stopped answering.
    const auto wait = std::chrono::seconds(30) + std::chrono::milliseconds(500) * pool_.stats().total();
    if (config_.pool.keep_workers_on_stop) {
        sessions_.detach();
        pool_.detach(wait);
    } else {
        sessions_.shutdown();
        pool_.shutdown(wait);
    }
    if (endpoint_) endpoint_->shutdown();
    hub_.stop();
    // After the sessions and the hub: a transfer thread waiting for its agent has been answered.
    transfer_threads_.stop();
    tasks_.stop();
    log_info("stopped");
}

}  // namespace ci
