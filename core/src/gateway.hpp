#pragma once
// Wires the gateway together: plugins, agent I/O, pool, sessions and the HTTP server.
#include <cstdint>
#include <memory>

#include <pistache/endpoint.h>

#include "agent_hub.hpp"
#include "config.hpp"
#include "http_api.hpp"
#include "mcp_sessions.hpp"
#include "metrics.hpp"
#include "plugin_loader.hpp"
#include "session_manager.hpp"
#include "task_runner.hpp"
#include "url_files.hpp"
#include "worker_pool.hpp"

namespace ci {

class Gateway {
public:
    Gateway(GatewayConfig config, LoadedPlugins plugins);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    // Removes leftovers of an earlier run, starts filling the pool and serves HTTP (in the
    // background). Throws std::runtime_error when it cannot.
    void start();
    std::uint16_t port() const;
    // Stops serving, ends every session and destroys every worker (bounded wait).
    void stop();

private:
    GatewayConfig config_;
    LoadedPlugins plugins_;
    Metrics metrics_;
    TaskRunner tasks_;
    AgentHub hub_;
    WorkerPool pool_;
    SessionManager sessions_;
    // Transfers by URL block a thread each while a file moves: their own threads, never the
    // backend's or the agents'.
    TaskRunner transfer_threads_;
    UrlFileTransfers transfers_;
    mcp::Sessions mcp_sessions_;
    std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
    bool stopped_ = false;
};

}  // namespace ci
