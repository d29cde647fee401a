#pragma once
// A minimal blocking HTTP client for tests (libcurl).
#include <map>
#include <string>
#include <vector>

namespace ci::test {

struct HttpResponse {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
};

// One part of a multipart/form-data body: a field, or a file when filename is set.
struct FormPart {
    std::string name;
    std::string value;
    std::string filename;
};

// Any method. A request other than GET carries body (JSON, or raw bytes) with Content-Type
// application/json, unless form has parts: then it is multipart/form-data. token empty: no
// X-Auth-Token header. extra_headers are whole "Name: value" lines. Throws on transport errors.
HttpResponse http_send(const std::string& method, const std::string& url, const std::string& body,
                       const std::string& token, const std::vector<FormPart>& form = {}, long timeout_s = 120,
                       const std::vector<std::string>& extra_headers = {});

inline HttpResponse http_request(const std::string& method, const std::string& url, const std::string& body = "",
                                 const std::string& token = "", long timeout_s = 120) {
    return http_send(method, url, body, token, {}, timeout_s);
}

// text percent-encoded for a query string.
std::string url_escape(const std::string& text);

}  // namespace ci::test
