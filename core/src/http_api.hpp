#pragma once
// The REST API on Pistache: finds the route, authenticates the caller, and hands the request to
// the route's handler (routes.hpp). Execution requests keep their ResponseWriter and return at once.
#include <memory>

#include <pistache/http.h>

#include "routes.hpp"

namespace ci {

class HttpApi final : public Pistache::Http::Handler {
public:
    HTTP_PROTOTYPE(HttpApi)
    explicit HttpApi(std::shared_ptr<ApiServices> services) : services_(std::move(services)) {}

    void onRequest(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer) override;

private:
    std::shared_ptr<ApiServices> services_;
};

}  // namespace ci
