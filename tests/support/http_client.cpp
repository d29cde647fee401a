#include "http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace ci::test {
namespace {

size_t on_body(char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* out) {
    std::string line(data, size * count);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        value.erase(value.find_last_not_of("\r\n ") + 1);
        (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
    }
    return size * count;
}

}  // namespace

HttpResponse http_send(const std::string& method, const std::string& url, const std::string& body,
                       const std::string& token, const std::vector<FormPart>& form, long timeout_s,
                       const std::vector<std::string>& extra_headers) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("curl_easy_init failed");
    HttpResponse response;
    curl_slist* raw_headers = nullptr;
    // A form's Content-Type (with its boundary) is curl's.
    if (form.empty()) raw_headers = curl_slist_append(raw_headers, "Content-Type: application/json");
    if (!token.empty()) raw_headers = curl_slist_append(raw_headers, ("X-Auth-Token: " + token).c_str());
    for (const auto& header : extra_headers) raw_headers = curl_slist_append(raw_headers, header.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(raw_headers, curl_slist_free_all);
    std::unique_ptr<curl_mime, decltype(&curl_mime_free)> mime(nullptr, curl_mime_free);
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &response.headers);
    if (!form.empty()) {
        mime.reset(curl_mime_init(curl.get()));
        for (const auto& field : form) {
            curl_mimepart* part = curl_mime_addpart(mime.get());
            curl_mime_name(part, field.name.c_str());
            if (!field.filename.empty()) curl_mime_filename(part, field.filename.c_str());
            curl_mime_data(part, field.value.data(), field.value.size());
        }
        curl_easy_setopt(curl.get(), CURLOPT_MIMEPOST, mime.get());
    } else if (method != "GET") {
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    if (method != "GET" && method != "POST") curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    CURLcode rc = curl_easy_perform(curl.get());
    if (rc != CURLE_OK) throw std::runtime_error(std::string("HTTP request failed: ") + curl_easy_strerror(rc));
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

std::string url_escape(const std::string& text) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("curl_easy_init failed");
    std::unique_ptr<char, decltype(&curl_free)> out(
        curl_easy_escape(curl.get(), text.data(), static_cast<int>(text.size())), curl_free);
    if (!out) throw std::runtime_error("curl_easy_escape failed");
    return out.get();
}

}  // namespace ci::test
