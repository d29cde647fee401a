#pragma once
// The REST API on Pistache: routing, authentication, request validation and JSON answers.
// Execution requests hand their ResponseWriter to the session layer and return at once.
#include <memory>
#include <string>

#include <pistache/http.h>

#include "api_error.hpp"
#include "code_interpreter/plugin/auth_provider.hpp"
#include "config.hpp"
#include "session_manager.hpp"
#include "worker_pool.hpp"

namespace ci {

struct ApiServices {
    const GatewayConfig& config;
    const plugin::AuthProvider& auth;
    SessionManager& sessions;
    WorkerPool& pool;
};

class HttpApi final : public Pistache::Http::Handler {
public:
    HTTP_PROTOTYPE(HttpApi)
    explicit HttpApi(std::shared_ptr<ApiServices> services) : services_(std::move(services)) {}

    void onRequest(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer) override;

private:
    void execute(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer);
    void release(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer);
    void status(Pistache::Http::ResponseWriter writer);

    std::shared_ptr<ApiServices> services_;
};

}  // namespace ci
