#pragma once
// A minimal blocking HTTP client for tests (libcurl).
#include <map>
#include <string>

namespace ci::test {

struct HttpResponse {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
};

// method "GET" or "POST"; token empty: no X-Auth-Token header. Throws on transport errors.
HttpResponse http_request(const std::string& method, const std::string& url, const std::string& body = "",
                          const std::string& token = "", long timeout_s = 120);

}  // namespace ci::test
