#pragma once
// The Kubernetes API over HTTPS with libcurl: the few calls the backend makes (create, get, list,
// delete, and a watch's streamed body), with the bearer token read afresh as it rotates and the
// server's certificate checked against the cluster's CA. Thread-safe: every call uses its own
// easy handle.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cluster_access.hpp"
#include "code_interpreter/plugin/result.hpp"

namespace ci::kube {

// How long one watch request lasts before the server ends it and the watcher starts the next.
inline constexpr int kWatchSeconds = 300;

struct ApiResponse {
    long status = 0;
    std::string body;
    // The body as JSON (null when it is not JSON).
    nlohmann::json json() const;
    // "404 NotFound: pods \"x\" not found", from a Status body when there is one.
    std::string describe() const;
};

class ApiClient {
public:
    explicit ApiClient(ClusterAccess access);

    const ClusterAccess& access() const { return access_; }
    // "/api/v1/namespaces/<namespace>/<resource>" (+ "/<name>").
    std::string path(std::string_view resource, std::string_view name = {}) const;
    // "?labelSelector=<selector, escaped>" and more, for list and watch.
    static std::string query(std::string_view key, std::string_view value);

    // One call; a body, when given, is sent as JSON. A failure is no answer at all (the API cannot
    // be reached, TLS refused, timeout: FailureKind::unavailable), not an HTTP error status.
    plugin::Result<ApiResponse> call(const char* method, const std::string& path,
                                     const nlohmann::json* body = nullptr) const;

    // A GET whose body is streamed to on_data as it arrives, until the server ends it, on_data
    // returns false, or stop becomes true (checked every few hundred milliseconds). Returns the
    // HTTP status (on_data sees only a 200's body; another status's body comes back in the
    // response), or a failure when no answer came or the transfer broke.
    plugin::Result<ApiResponse> stream(const std::string& path,
                                       const std::function<bool(std::string_view)>& on_data,
                                       const std::atomic<bool>& stop) const;

private:
    ClusterAccess access_;
    std::unique_ptr<BearerToken> token_;
};

}  // namespace ci::kube
