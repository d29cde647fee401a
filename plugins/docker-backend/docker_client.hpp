#pragma once
// A minimal Docker Engine API client: HTTP/1.1 over the daemon's unix socket with libcurl.
// Thread-safe: every call uses its own CURL easy handle, so one client serves many threads.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include <curl/curl.h>

#include "code_interpreter/plugin/result.hpp"

namespace ci::docker {

// Move-only owner of a CURL easy handle.
class CurlEasy {
public:
    CurlEasy() : handle_(curl_easy_init()) {}
    ~CurlEasy() { reset(); }
    CurlEasy(CurlEasy&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    CurlEasy& operator=(CurlEasy&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    CurlEasy(const CurlEasy&) = delete;
    CurlEasy& operator=(const CurlEasy&) = delete;

    CURL* get() const { return handle_; }
    explicit operator bool() const { return handle_ != nullptr; }

private:
    void reset() {
        if (handle_) curl_easy_cleanup(handle_);
        handle_ = nullptr;
    }
    CURL* handle_;
};

// Move-only owner of a curl_slist (request headers).
class CurlHeaders {
public:
    CurlHeaders() = default;
    ~CurlHeaders() { reset(); }
    CurlHeaders(CurlHeaders&& other) noexcept : list_(std::exchange(other.list_, nullptr)) {}
    CurlHeaders& operator=(CurlHeaders&& other) noexcept {
        if (this != &other) {
            reset();
            list_ = std::exchange(other.list_, nullptr);
        }
        return *this;
    }
    CurlHeaders(const CurlHeaders&) = delete;
    CurlHeaders& operator=(const CurlHeaders&) = delete;

    // False when libcurl could not allocate; the list is unchanged then.
    bool append(const char* header) {
        curl_slist* grown = curl_slist_append(list_, header);
        if (!grown) return false;
        list_ = grown;
        return true;
    }
    curl_slist* get() const { return list_; }

private:
    void reset() {
        if (list_) curl_slist_free_all(list_);
        list_ = nullptr;
    }
    curl_slist* list_ = nullptr;
};

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
