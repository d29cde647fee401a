// GET /status (admin) and GET /health: the gateway's state.
#include "http_reply.hpp"
#include "routes.hpp"

namespace ci {

using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;

void handle_health(const Request&, ResponseWriter writer, ApiServices&, const Caller&) {
    send_json(writer, 200, R"({"status":"ok"})");
}

void handle_status(const Request&, ResponseWriter writer, ApiServices& services, const Caller&) {
    const auto& c = services.config;
    PoolStats pool = services.pool.stats();
    SessionStats sessions = services.sessions.stats();
    nlohmann::json body = {
        {"total_workers", pool.total()},
        {"is_initializing", pool.initializing},
        {"idle_workers", pool.idle},
        {"busy_workers", pool.busy},
        {"creating_workers", pool.creating},
        {"destroying_workers", pool.destroying},
        {"waiting_sessions", pool.waiting},
        {"idle_target", pool.idle_target},
        {"sessions", sessions.sessions},
        {"running_executions", sessions.running},
        {"queued_executions", sessions.queued},
        {"sessions_waiting_to_run", sessions.admission_waiting},
        {"last_worker_error", pool.last_create_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(pool.last_create_error)},
        {"condition",
         {{"state", pool.condition},
          {"consecutive_failures", pool.consecutive_failures},
          {"failing_for_ms", pool.failing_for_ms},
          {"next_retry_in_ms", pool.next_retry_in_ms}}},
        {"limits",
         {{"min_idle_workers", c.pool.min_idle_workers},
          {"max_total_workers", c.pool.max_total_workers},
          {"worker_cpu", c.worker.cpu},
          {"worker_ram_mb", c.worker.ram_mb},
          {"worker_disk_mb", c.worker.disk_mb},
          {"execution_timeout_ms", c.execution.timeout.count()}}},
        // What a worker costs to make, with the modules it imports before it is ready.
        {"worker_start",
         {{"preload", c.worker.preload},
          {"samples", pool.ready_samples},
          {"ready_ms_p50", pool.ready_samples ? nlohmann::json(pool.ready_ms_p50) : nlohmann::json(nullptr)},
          {"ready_ms_max", pool.ready_samples ? nlohmann::json(pool.ready_ms_max) : nlohmann::json(nullptr)}}},
    };
    send_json(writer, 200, dump(body));
}

}  // namespace ci
