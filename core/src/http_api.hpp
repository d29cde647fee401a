#pragma once
// The REST API on Pistache: reads requests, finds the route, authenticates the caller, and hands
// the request to the route's handler (routes.hpp). Execution requests keep their ResponseWriter and
// return at once.
//
// It reads requests itself (onInput, in place of Pistache's) so that strangers cost little: a
// request's head must be complete within server.header_timeout and 64 KiB, and once it is, the
// route and the token are checked before any of the body is read: a refused request is answered
// at once and its connection closed, unread. Open connections are capped (server.max_connections).
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <pistache/http.h>

#include "api_error.hpp"
#include "routes.hpp"

namespace ci {

// Open connections over every Pistache thread (each has its own copy of the handler).
struct ConnectionGate {
    explicit ConnectionGate(int max) : max(max) {}
    const int max;
    std::atomic<int> open{0};
    std::atomic<std::uint64_t> refused{0};
};

// What a request is, known from its head alone.
struct Screening {
    const Route* route = nullptr;
    std::vector<Pistache::Http::Method> allowed;  // the methods its path answers (none: unknown path)
    Caller caller;
    std::optional<ApiError> refusal;  // answered instead of the route
    std::size_t max_body = 0;         // the most body the route reads
};

// The largest request any route reads, head included: the size of Pistache's request buffer.
std::size_t largest_request(const GatewayConfig& config);

class HttpApi final : public Pistache::Http::Handler {
public:
    HTTP_PROTOTYPE(HttpApi)
    explicit HttpApi(std::shared_ptr<ApiServices> services);

    void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
    void onInput(const char* buffer, std::size_t len, const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
    // A complete request, screened when its head was.
    void onRequest(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer) override;

private:
    struct Connection;
    Screening screen(const Pistache::Http::Request& head) const;
    // Answers error and closes the connection once the answer is written; what else comes is dropped.
    void refuse(Connection& connection, const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                const Pistache::Http::Request& head, const Screening* screening, const ApiError& error);

    std::shared_ptr<ApiServices> services_;
    std::shared_ptr<ConnectionGate> gate_;
};

}  // namespace ci
