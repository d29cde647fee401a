#include "url_transfer.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <mutex>

#include <curl/curl.h>

namespace ci {
namespace {

// curl hands a write callback at most this much at a time; bigger pieces mean fewer calls.
constexpr long kReceiveBuffer = 256 * 1024;
constexpr long kSendBuffer = 1024 * 1024;

struct EasyFree {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistFree {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct MimeFree {
    void operator()(curl_mime* mime) const { curl_mime_free(mime); }
};
using Easy = std::unique_ptr<CURL, EasyFree>;
using Slist = std::unique_ptr<curl_slist, SlistFree>;

Slist append(Slist list, const std::string& line) {
    curl_slist* raw = curl_slist_append(list.get(), line.c_str());
    if (!raw) throw std::bad_alloc();
    (void)list.release();
    return Slist(raw);
}

std::string seconds(std::chrono::milliseconds ms) {
    const auto whole = ms.count() / 1000;
    const auto tenths = (ms.count() % 1000) / 100;
    return std::to_string(whole) + (tenths ? "." + std::to_string(tenths) : "") + " s";
}

bool same_address(const sockaddr* address, const IpAddress& pinned) {
    if (address->sa_family == AF_INET && pinned.family == AF_INET)
        return std::memcmp(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr, pinned.bytes, 4) == 0;
    if (address->sa_family == AF_INET6 && pinned.family == AF_INET6)
        return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, pinned.bytes, 16) == 0;
    return false;
}

// What one curl transfer needs from its callbacks, and what they report back.
struct Exchange {
    CURL* curl = nullptr;
    IpAddress pinned;
    const TransferSettings* settings = nullptr;
    bool connect_refused = false;            // curl tried an address other than the pinned one
    std::optional<ApiError> callback_error;  // the sink's or source's error
    // Download.
    const ByteSink* sink = nullptr;
    std::uint64_t received = 0;
    // Upload.
    const ByteSource* source = nullptr;
    std::uint64_t to_send = 0;
    std::uint64_t sent = 0;
    std::string pending;
    std::size_t pending_offset = 0;
};

curl_socket_t open_pinned_socket(void* data, curlsocktype, curl_sockaddr* address) {
    auto* exchange = static_cast<Exchange*>(data);
    if (!same_address(&address->addr, exchange->pinned)) {
        exchange->connect_refused = true;
        return CURL_SOCKET_BAD;
    }
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

int on_progress(void* data, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* exchange = static_cast<Exchange*>(data);
    const auto* cancelled = exchange->settings->cancelled;
    return cancelled && cancelled->load(std::memory_order_relaxed) ? 1 : 0;
}

long response_code(CURL* curl) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

bool is_success(long code) { return code >= 200 && code < 300; }
bool is_redirect(long code) { return code == 301 || code == 302 || code == 303 || code == 307 || code == 308; }

std::size_t on_body(char* bytes, std::size_t, std::size_t count, void* data) {
    auto* exchange = static_cast<Exchange*>(data);
    // Only a successful answer's body is the file; an error page or a redirect's body is dropped.
    if (!is_success(response_code(exchange->curl))) return count;
    exchange->received += count;
    if (exchange->received > exchange->settings->max_bytes) {
        exchange->callback_error = ApiError{ErrorReason::payload_too_large,
                                            "the file is larger than the limit of " +
                                                std::to_string(exchange->settings->max_bytes) +
                                                " bytes (files.url_max_file_bytes)"};
        return CURL_WRITEFUNC_ERROR;
    }
    if (auto error = (*exchange->sink)(std::string_view(bytes, count))) {
        exchange->callback_error = std::move(error);
        return CURL_WRITEFUNC_ERROR;
    }
    return count;
}

std::size_t on_send(char* buffer, std::size_t, std::size_t room, void* data) {
    auto* exchange = static_cast<Exchange*>(data);
    if (exchange->sent == exchange->to_send) return 0;
    if (exchange->pending_offset == exchange->pending.size()) {
        auto next = (*exchange->source)(static_cast<std::size_t>(exchange->to_send - exchange->sent));
        if (auto* error = std::get_if<ApiError>(&next)) {
            exchange->callback_error = std::move(*error);
            return CURL_READFUNC_ABORT;
        }
        exchange->pending = std::move(std::get<std::string>(next));
        exchange->pending_offset = 0;
        if (exchange->pending.empty()) {
            exchange->callback_error = ApiError{ErrorReason::file_io, "the file became shorter while it was sent"};
            return CURL_READFUNC_ABORT;
        }
    }
    std::size_t n = std::min(room, exchange->pending.size() - exchange->pending_offset);
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, exchange->to_send - exchange->sent));
    std::memcpy(buffer, exchange->pending.data() + exchange->pending_offset, n);
    exchange->pending_offset += n;
    exchange->sent += n;
    return n;
}

// A handle set up for one connection to target's pinned address.
Easy pinned_handle(const CheckedTarget& target, Exchange& exchange, Slist& resolve, char* error_buffer) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    Easy curl(curl_easy_init());
    if (!curl) throw std::bad_alloc();
    CURL* c = curl.get();
    exchange.curl = c;
    exchange.pinned = target.address;
    const std::string address = target.address.family == AF_INET6 ? "[" + target.address.text() + "]"
                                                                   : target.address.text();
    resolve = append(std::move(resolve), target.url.host + ":" + std::to_string(target.url.port) + ":" + address);
    const auto& s = *exchange.settings;
    curl_easy_setopt(c, CURLOPT_URL, target.url.url.c_str());
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve.get());
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_pinned_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &exchange);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // never a proxy from the environment
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(s.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(s.total_timeout.count()));
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &exchange);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "code-interpreter");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
    return curl;
}

// The outcome of curl_easy_perform as an API error, or nullopt when it succeeded.
std::optional<ApiError> transfer_error(CURLcode rc, Exchange& exchange, const CheckedTarget& target,
                                       const char* error_buffer) {
    if (rc == CURLE_OK) return std::nullopt;
    if (exchange.callback_error) return std::move(exchange.callback_error);
    const std::string where = host_port(target.url);
    const auto& s = *exchange.settings;
    if (exchange.settings->cancelled && exchange.settings->cancelled->load())
        return ApiError{ErrorReason::shutting_down, "the gateway is stopping; the transfer was cancelled"};
    if (exchange.connect_refused)
        return ApiError{ErrorReason::url_refused, "refused to connect to " + where +
                                                      " at an address other than the checked " + target.address.text()};
    const std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        const bool connected = response_code(exchange.curl) != 0 || exchange.received > 0 || exchange.sent > 0;
        return ApiError{ErrorReason::transfer_timeout,
                        connected ? where + " did not complete the transfer within " + seconds(s.total_timeout) +
                                        " (files.url_timeout): " + detail
                                  : where + " did not answer in time (files.url_connect_timeout " +
                                        seconds(s.connect_timeout) + ", files.url_timeout " +
                                        seconds(s.total_timeout) + "): " + detail};
    }
    if (rc == CURLE_FILESIZE_EXCEEDED)
        return ApiError{ErrorReason::payload_too_large, "the file is larger than the limit of " +
                                                            std::to_string(s.max_bytes) +
                                                            " bytes (files.url_max_file_bytes)"};
    return ApiError{ErrorReason::transfer_failed, "the transfer with " + where + " failed: " + detail};
}

ApiError status_error(long code, const CheckedTarget& target, const char* what) {
    return ApiError{ErrorReason::transfer_failed,
                    host_port(target.url) + " answered the " + what + " with HTTP " + std::to_string(code)};
}

}  // namespace

std::variant<std::uint64_t, ApiError> download_url(const CheckedTarget& first, const UrlPolicy& policy,
                                                   const TransferSettings& settings, const ByteSink& sink) {
    CheckedTarget target = first;
    for (int hop = 0;; ++hop) {
        Exchange exchange;
        exchange.settings = &settings;
        exchange.sink = &sink;
        Slist resolve;
        char error_buffer[CURL_ERROR_SIZE] = {};
        Easy curl = pinned_handle(target, exchange, resolve, error_buffer);
        curl_easy_setopt(curl.get(), CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_BUFFERSIZE, kReceiveBuffer);
        curl_easy_setopt(curl.get(), CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(settings.max_bytes));
        curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &exchange);
        const CURLcode rc = curl_easy_perform(curl.get());
        if (auto error = transfer_error(rc, exchange, target, error_buffer)) return std::move(*error);
        const long code = response_code(curl.get());
        if (is_success(code)) return exchange.received;
        if (!is_redirect(code)) return status_error(code, target, "download");
        char* location = nullptr;
        curl_easy_getinfo(curl.get(), CURLINFO_REDIRECT_URL, &location);
        if (!location)
            return ApiError{ErrorReason::transfer_failed,
                            host_port(target.url) + " answered HTTP " + std::to_string(code) + " without a Location"};
        if (hop == settings.max_redirects)
            return ApiError{ErrorReason::transfer_failed,
                            "more than " + std::to_string(settings.max_redirects) + " redirects"};
        auto next = parse_transfer_url(location, "the redirect's Location");
        if (auto* error = std::get_if<ApiError>(&next))
            return ApiError{ErrorReason::url_refused, host_port(target.url) + " redirected to a URL that is refused: " +
                                                          error->message};
        auto checked = check_target(std::get<ParsedUrl>(next), policy);
        if (auto* error = std::get_if<ApiError>(&checked)) {
            error->message = host_port(target.url) + " redirected: " + error->message;
            return std::move(*error);
        }
        target = std::get<CheckedTarget>(std::move(checked));
    }
}

std::optional<ApiError> upload_url(const CheckedTarget& target, const std::optional<FormFields>& form_fields,
                                   const std::string& filename, std::uint64_t size,
                                   const TransferSettings& settings, const ByteSource& source) {
    Exchange exchange;
    exchange.settings = &settings;
    exchange.source = &source;
    exchange.to_send = size;
    Slist resolve;
    char error_buffer[CURL_ERROR_SIZE] = {};
    Easy curl = pinned_handle(target, exchange, resolve, error_buffer);
    CURL* c = curl.get();
    // No "Expect: 100-continue" round trip: the server answers once the body is in.
    Slist headers = append(Slist(), "Expect:");
    std::unique_ptr<curl_mime, MimeFree> mime;
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, kSendBuffer);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char*, std::size_t, std::size_t n, void*) { return n; });
    if (form_fields) {
        mime.reset(curl_mime_init(c));
        for (const auto& [name, value] : *form_fields) {
            curl_mimepart* part = curl_mime_addpart(mime.get());
            curl_mime_name(part, name.c_str());
            curl_mime_data(part, value.data(), value.size());
        }
        curl_mimepart* file = curl_mime_addpart(mime.get());
        curl_mime_name(file, "file");
        curl_mime_filename(file, filename.c_str());
        curl_mime_type(file, "application/octet-stream");
        curl_mime_data_cb(file, static_cast<curl_off_t>(size), on_send, nullptr, nullptr, &exchange);
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
    } else {
        headers = append(std::move(headers), "Content-Type: application/octet-stream");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_send);
        curl_easy_setopt(c, CURLOPT_READDATA, &exchange);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    const CURLcode rc = curl_easy_perform(c);
    if (auto error = transfer_error(rc, exchange, target, error_buffer)) return error;
    const long code = response_code(c);
    if (is_success(code)) return std::nullopt;
    if (is_redirect(code))
        return ApiError{ErrorReason::transfer_failed, host_port(target.url) + " answered the upload with a redirect (HTTP " +
                                                          std::to_string(code) + "), which uploads do not follow"};
    return status_error(code, target, "upload");
}

}  // namespace ci
