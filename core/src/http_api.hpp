#pragma once
// The REST API on Pistache: finds the route, authenticates the caller, and hands the request to
// the route's handler (routes.hpp). Execution requests keep their ResponseWriter and return at once.
// It also caps open connections (server.max_connections): Pistache 0.0.5 reads a whole request
// before any route or token is known, so the cap is what bounds strangers' connections.
#include <atomic>
#include <cstdint>
#include <memory>

#include <pistache/http.h>

#include "routes.hpp"

namespace ci {

// Open connections over every Pistache thread (each has its own copy of the handler).
struct ConnectionGate {
    explicit ConnectionGate(int max) : max(max) {}
    const int max;
    std::atomic<int> open{0};
    std::atomic<std::uint64_t> refused{0};
};

class HttpApi final : public Pistache::Http::Handler {
public:
    HTTP_PROTOTYPE(HttpApi)
    explicit HttpApi(std::shared_ptr<ApiServices> services);

    void onRequest(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer) override;
    void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
    void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;

private:
    std::shared_ptr<ApiServices> services_;
    std::shared_ptr<ConnectionGate> gate_;
};

}  // namespace ci
