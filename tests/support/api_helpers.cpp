#include "api_helpers.hpp"

#include <cstdio>
#include <exception>
#include <thread>

#include "test_gateway.hpp"

namespace ci::test {

std::string user_of(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "7e570000-%04x-4000-8000-%012x", n & 0xffff, n);
    return buf;
}

HttpResponse execute_as(const std::string& base_url, const std::string& user, const std::string& code,
                        long timeout_s) {
    try {
        return http_request("POST", base_url + "/execute", nlohmann::json{{"user_uuid", user}, {"code", code}}.dump(),
                            kUserToken, timeout_s);
    } catch (const std::exception& e) {
        return HttpResponse{0, e.what(), {}};
    }
}

nlohmann::json body_of(const HttpResponse& response) { return nlohmann::json::parse(response.body, nullptr, false); }

std::string result_text(const HttpResponse& response) {
    auto body = body_of(response);
    return body.is_object() && body.contains("result_text") && body["result_text"].is_string()
               ? body["result_text"].get<std::string>()
               : "";
}

std::string reason_of(const HttpResponse& response) {
    auto body = body_of(response);
    return body.is_object() && body.contains("reason") && body["reason"].is_string() ? body["reason"].get<std::string>()
                                                                                     : "";
}

nlohmann::json status_of(const std::string& base_url) {
    try {
        auto r = http_request("GET", base_url + "/status", "", kAdminToken, 5);
        return r.status == 200 ? body_of(r) : nlohmann::json(nullptr);
    } catch (const std::exception&) {
        return nullptr;
    }
}

long long ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

bool wait_until(const std::function<bool()>& pred, std::chrono::steady_clock::duration limit,
                std::chrono::steady_clock::duration every) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(every);
    }
}

}  // namespace ci::test
