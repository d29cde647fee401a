#pragma once
// A minimal Docker Engine API client: HTTP/1.1 over the daemon's unix socket with libcurl.
// Thread-safe: every call uses its own CURL easy handle, so one client serves many threads.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include <curl/curl.h>

#include "code_interpreter/curl/handles.hpp"
#include "code_interpreter/plugin/result.hpp"

namespace ci::docker {

using curl::CurlEasy;
using curl::CurlHeaders;

struct HttpResponse {
    long status = 0;   // HTTP status code
    std::string body;  // response body (JSON for the Engine API)
};

struct DockerClientOptions {
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds request_timeout{30000};  // whole request, default per call
    std::size_t max_response_bytes = 16 * 1024 * 1024;
};

class DockerClient {
public:
    static constexpr std::string_view kApiVersion = "v1.41";

    explicit DockerClient(std::string socket_path, DockerClientOptions options = {});

    // `path` is the API path after the version, starting with '/', query string included, e.g.
    // "/containers/json?all=true". A transport failure (no daemon, timeout, ...) is a failed
    // Result of kind unavailable (exhausted when no socket could be made: too many open files)
    // whose message names the socket; any HTTP answer (also 4xx/5xx) is a success.
    ci::plugin::Result<HttpResponse> get(const std::string& path) const;
    ci::plugin::Result<HttpResponse> post(const std::string& path, const std::string& json_body = {}) const;
    ci::plugin::Result<HttpResponse> del(const std::string& path) const;

    // As above with an explicit total timeout for slow operations.
    ci::plugin::Result<HttpResponse> request(const char* method, const std::string& path,
                                             const std::string* json_body,
                                             std::chrono::milliseconds timeout) const;

    const std::string& socket_path() const { return socket_path_; }

private:
    std::string socket_path_;
    DockerClientOptions options_;
};

}  // namespace ci::docker
