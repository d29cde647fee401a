#pragma once
// Move-only owners of libcurl's easy handles and header lists, for the plugins that speak HTTP
// (the Docker Engine API on its unix socket, the Kubernetes API over TLS). Header-only: each
// plugin compiles its own copy, so nothing crosses a plugin's hidden-visibility boundary.
#include <utility>

#include <curl/curl.h>

namespace ci::curl {

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

}  // namespace ci::curl
