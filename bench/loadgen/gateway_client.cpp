#include "gateway_client.hpp"

#include <stdexcept>
#include <thread>

namespace ci::bench {

HttpRequest GatewayAccess::execute(const std::string& user_uuid, const std::string& code) const {
    return {"POST", "/execute", nlohmann::json{{"user_uuid", user_uuid}, {"code", code}}.dump(),
            {{auth_header, user_token}}};
}

HttpRequest GatewayAccess::release(const std::string& user_uuid) const {
    return {"POST", "/release", nlohmann::json{{"user_uuid", user_uuid}}.dump(), {{auth_header, user_token}}};
}

nlohmann::json GatewayAccess::status() const {
    if (!admin_token) throw std::logic_error("GET /status needs the admin token");
    HttpResponse response = fetch(endpoint, {"GET", "/status", "", {{auth_header, *admin_token}}});
    if (response.status != 200)
        throw std::runtime_error("GET /status answered " + std::to_string(response.status) + ": " + response.body);
    return nlohmann::json::parse(response.body);
}

std::chrono::steady_clock::time_point GatewayAccess::wait_pool_quiet(std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::chrono::steady_clock::time_point quiet_since;
    int quiet_polls = 0;
    while (quiet_polls < 3) {
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("the pool was not quiet within " + std::to_string(timeout.count()) + " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        nlohmann::json s = status();
        const auto answered = std::chrono::steady_clock::now();
        const auto& limits = s["limits"];
        bool full = s["idle_workers"].get<int>() >= limits["min_idle_workers"].get<int>() ||
                    s["total_workers"].get<int>() >= limits["max_total_workers"].get<int>();
        bool quiet = full && s["creating_workers"].get<int>() == 0 && s["destroying_workers"].get<int>() == 0;
        if (quiet && quiet_polls == 0) quiet_since = answered;
        quiet_polls = quiet ? quiet_polls + 1 : 0;
    }
    return quiet_since;
}

}  // namespace ci::bench
