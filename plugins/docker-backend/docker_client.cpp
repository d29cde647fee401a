#include "docker_client.hpp"

#include <cerrno>
#include <cstring>
#include <mutex>

namespace ci::docker {
namespace {

using ci::plugin::FailureKind;
using ci::plugin::Result;

struct BodySink {
    std::string data;
    std::size_t limit = 0;
    bool overflow = false;
};

std::size_t write_body(char* ptr, std::size_t size, std::size_t nmemb, void* userdata) {
    auto* sink = static_cast<BodySink*>(userdata);
    const std::size_t n = size * nmemb;
    if (sink->data.size() + n > sink->limit) {
        sink->overflow = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    try {
        sink->data.append(ptr, n);
    } catch (...) {
        return 0;
    }
    return n;
}

void global_init_once() {
    // curl_global_init is not thread-safe on every build; do it once, before any handle exists.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

DockerClient::DockerClient(std::string socket_path, DockerClientOptions options)
    : socket_path_(std::move(socket_path)), options_(options) {
    global_init_once();
}

Result<HttpResponse> DockerClient::get(const std::string& path) const {
    return request("GET", path, nullptr, options_.request_timeout);
}

Result<HttpResponse> DockerClient::post(const std::string& path, const std::string& json_body) const {
    return request("POST", path, &json_body, options_.request_timeout);
}

Result<HttpResponse> DockerClient::del(const std::string& path) const {
    return request("DELETE", path, nullptr, options_.request_timeout);
}

Result<HttpResponse> DockerClient::request(const char* method, const std::string& path,
                                           const std::string* json_body,
                                           std::chrono::milliseconds timeout) const {
    const std::string what = std::string(method) + " " + path;
    auto fail = [&](const std::string& why, FailureKind kind) {
        return Result<HttpResponse>::failure("Docker API " + what + " via " + socket_path_ + ": " + why, kind);
    };

    CurlEasy easy;
    if (!easy) return fail("curl_easy_init failed", FailureKind::other);
    CurlHeaders headers;
    if (!headers.append("Accept: application/json") || !headers.append("Expect:"))
        return fail("out of memory building headers", FailureKind::other);
    if (json_body && !headers.append("Content-Type: application/json"))
        return fail("out of memory building headers", FailureKind::other);

    const std::string url = "http://localhost/" + std::string(kApiVersion) + path;
    BodySink sink;
    sink.limit = options_.max_response_bytes;
    char error_buffer[CURL_ERROR_SIZE] = {0};

    CURL* h = easy.get();
    CURLcode rc = CURLE_OK;
    auto set = [&](auto option, auto value) {
        if (rc == CURLE_OK) rc = curl_easy_setopt(h, option, value);
    };
    set(CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
    set(CURLOPT_URL, url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http");
    set(CURLOPT_NOSIGNAL, 1L);  // called from several threads: no SIGALRM-based timeouts
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    set(CURLOPT_HTTPHEADER, headers.get());
    set(CURLOPT_WRITEFUNCTION, &write_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&sink));
    set(CURLOPT_ERRORBUFFER, error_buffer);
    if (std::strcmp(method, "GET") == 0) {
        set(CURLOPT_HTTPGET, 1L);
    } else if (std::strcmp(method, "POST") == 0) {
        // The body must stay valid until curl_easy_perform returns: the caller's string, or a
        // static empty one.
        static const std::string kEmpty;
        const std::string* body = json_body ? json_body : &kEmpty;
        set(CURLOPT_POST, 1L);
        set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
        set(CURLOPT_POSTFIELDS, body->c_str());
    } else {
        set(CURLOPT_CUSTOMREQUEST, method);
    }
    if (rc != CURLE_OK) return fail(std::string("curl_easy_setopt: ") + curl_easy_strerror(rc), FailureKind::other);

    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (sink.overflow)
            return fail("response larger than " + std::to_string(options_.max_response_bytes) + " bytes",
                        FailureKind::other);
        // Anything else went wrong on the way to or from the daemon: it cannot be reached now.
        std::string detail = error_buffer[0] ? std::string(error_buffer) : curl_easy_strerror(rc);
        long os_errno = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno == EMFILE || os_errno == ENFILE)  // no socket could be made: the host's limit, not the daemon
            return fail(detail + " (" + std::strerror(static_cast<int>(os_errno)) + ")", FailureKind::exhausted);
        if (rc == CURLE_COULDNT_CONNECT) {
            detail = "cannot connect to the Docker daemon" +
                     (os_errno ? " (" + std::string(std::strerror(static_cast<int>(os_errno))) + ")" : std::string()) +
                     "; is dockerd running and is the socket path right?";
        }
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            detail = "timed out after " + std::to_string(timeout.count()) + " ms (" + detail + ")";
        return fail(detail, FailureKind::unavailable);
    }
    HttpResponse response;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    response.body = std::move(sink.data);
    return Result<HttpResponse>::success(std::move(response));
}

}  // namespace ci::docker
