#include "api_client.hpp"

#include <cstring>
#include <mutex>

#include "code_interpreter/curl/handles.hpp"

namespace ci::kube {
namespace {

using nlohmann::json;
using plugin::FailureKind;
using plugin::Result;

constexpr long kConnectTimeoutMs = 5000;
constexpr long kCallTimeoutMs = 30000;
constexpr std::size_t kMaxBodyBytes = 16 << 20;  // a list of a few thousand pods

struct Transfer {
    std::string body;                                   // a call's body, or a failed stream's
    const std::function<bool(std::string_view)>* on_data = nullptr;  // streams only
    CURL* handle = nullptr;
    const std::atomic<bool>* stop = nullptr;
    bool overflow = false;
    bool stopped = false;
};

std::size_t receive(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    if (transfer->on_data) {
        long status = 0;
        curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200) {
            if (!(*transfer->on_data)(std::string_view(data, n))) {
                transfer->stopped = true;
                return 0;
            }
            return n;
        }
    }
    if (transfer->body.size() + n > kMaxBodyBytes) {
        transfer->overflow = true;
        return 0;
    }
    transfer->body.append(data, n);
    return n;
}

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* transfer = static_cast<Transfer*>(user);
    if (transfer->stop && transfer->stop->load()) {
        transfer->stopped = true;
        return 1;
    }
    return 0;
}

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

json ApiResponse::json() const { return json::parse(body, nullptr, /*allow_exceptions=*/false); }

std::string ApiResponse::describe() const {
    const nlohmann::json status_body = json();
    std::string out = std::to_string(status);
    if (status_body.is_object()) {
        if (status_body.value("reason", json()).is_string()) out += " " + status_body["reason"].get<std::string>();
        if (status_body.value("message", json()).is_string()) out += ": " + status_body["message"].get<std::string>();
    }
    return out;
}

ApiClient::ApiClient(ClusterAccess access)
    : access_(std::move(access)), token_(std::make_unique<BearerToken>(access_.token_file)) {
    global_init_once();
}

std::string ApiClient::path(std::string_view resource, std::string_view name) const {
    std::string out = "/api/v1/namespaces/" + access_.namespace_ + "/" + std::string(resource);
    if (!name.empty()) out += "/" + std::string(name);
    return out;
}

std::string ApiClient::query(std::string_view key, std::string_view value) {
    std::string out(key);
    out += '=';
    for (unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            static const char* hex = "0123456789ABCDEF";
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

namespace {

Result<ApiResponse> perform(const ClusterAccess& access, BearerToken& token, const char* method,
                            const std::string& path, const std::string* body, Transfer& transfer,
                            long timeout_ms) {
    const std::string what = std::string(method) + " " + path;
    auto fail = [&](const std::string& why, FailureKind kind) {
        return Result<ApiResponse>::failure("Kubernetes API " + what + ": " + why, kind);
    };
    std::string bearer;
    try {
        bearer = "Authorization: Bearer " + token.get();
    } catch (const std::exception& e) {
        return fail(e.what(), FailureKind::unavailable);
    }
    curl::CurlEasy easy;
    if (!easy) return fail("curl_easy_init failed", FailureKind::other);
    curl::CurlHeaders headers;
    if (!headers.append("Accept: application/json") || !headers.append(bearer.c_str()) ||
        (body && !headers.append("Content-Type: application/json")))
        return fail("out of memory building headers", FailureKind::other);
    const std::string url = access.api_url + path;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    CURL* h = easy.get();
    transfer.handle = h;
    CURLcode rc = CURLE_OK;
    auto set = [&](auto option, auto value) {
        if (rc == CURLE_OK) rc = curl_easy_setopt(h, option, value);
    };
    set(CURLOPT_URL, url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "https");
    set(CURLOPT_CAINFO, access.ca_file.c_str());
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
    set(CURLOPT_TIMEOUT_MS, timeout_ms);
    set(CURLOPT_HTTPHEADER, headers.get());
    set(CURLOPT_WRITEFUNCTION, &receive);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
    set(CURLOPT_ERRORBUFFER, error_buffer);
    if (transfer.stop) {
        set(CURLOPT_NOPROGRESS, 0L);
        set(CURLOPT_XFERINFOFUNCTION, &progress);
        set(CURLOPT_XFERINFODATA, static_cast<void*>(&transfer));
    }
    if (body) {
        set(CURLOPT_CUSTOMREQUEST, method);
        set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
        set(CURLOPT_POSTFIELDS, body->c_str());
    } else if (std::strcmp(method, "GET") == 0) {
        set(CURLOPT_HTTPGET, 1L);
    } else {
        set(CURLOPT_CUSTOMREQUEST, method);
    }
    if (rc != CURLE_OK) return fail(std::string("curl_easy_setopt: ") + curl_easy_strerror(rc), FailureKind::other);
    rc = curl_easy_perform(h);
    ApiResponse response;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    if (rc != CURLE_OK && !transfer.stopped) {
        if (transfer.overflow) return fail("answer larger than " + std::to_string(kMaxBodyBytes) + " bytes", FailureKind::other);
        return fail(error_buffer[0] ? error_buffer : curl_easy_strerror(rc), FailureKind::unavailable);
    }
    response.body = std::move(transfer.body);
    return Result<ApiResponse>::success(std::move(response));
}

}  // namespace

Result<ApiResponse> ApiClient::call(const char* method, const std::string& path, const json* body) const {
    const std::string text = body ? body->dump() : std::string();
    Transfer transfer;
    return perform(access_, *token_, method, path, body ? &text : nullptr, transfer, kCallTimeoutMs);
}

Result<ApiResponse> ApiClient::stream(const std::string& path, const std::function<bool(std::string_view)>& on_data,
                                      const std::atomic<bool>& stop) const {
    Transfer transfer;
    transfer.on_data = &on_data;
    transfer.stop = &stop;
    // The watch's own timeoutSeconds (kWatchSeconds) ends it; this bound catches a connection
    // that went silent without closing.
    return perform(access_, *token_, "GET", path, nullptr, transfer, (kWatchSeconds + 30) * 1000L);
}

}  // namespace ci::kube
