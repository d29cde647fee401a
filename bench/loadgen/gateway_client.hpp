#pragma once
// The gateway's routes as the load generator uses them: the requests it sends and the admin calls
// it makes between phases.
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "http_client.hpp"

namespace ci::bench {

struct GatewayAccess {
    Endpoint endpoint;
    std::string auth_header;  // the auth plugin's header (X-Auth-Token by default)
    std::string user_token;
    std::optional<std::string> admin_token;  // enables /status: pool waits

    HttpRequest execute(const std::string& user_uuid, const std::string& code) const;
    HttpRequest release(const std::string& user_uuid) const;

    // GET /status; throws without an admin token or on a non-200 answer.
    nlohmann::json status() const;

    // Waits until the pool is quiet (no worker being created or destroyed, idle workers at
    // min_idle or the cap reached) on three polls in a row (50 ms apart), so a measured phase does not pay
    // for the previous phase's refill. Returns when the first of those polls was answered;
    // throws after timeout.
    std::chrono::steady_clock::time_point wait_pool_quiet(std::chrono::seconds timeout) const;
};

}  // namespace ci::bench
