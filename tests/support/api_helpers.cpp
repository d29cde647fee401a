#include "api_helpers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <fstream>
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

long resident_mib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
    return -1;
}

int connect_loopback(int port, int receive_buffer) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace ci::test
