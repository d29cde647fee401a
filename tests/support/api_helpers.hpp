#pragma once
// Calls the tests make again and again: execute as a user, read /status, wait for a condition.
#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "http_client.hpp"

namespace ci::test {

// A valid, recognisable user_uuid for test number n.
std::string user_of(int n);
// POST base_url + "/execute" as user; transport errors come back as status 0 with the error text.
HttpResponse execute_as(const std::string& base_url, const std::string& user, const std::string& code,
                        long timeout_s = 120);
// The body as JSON (null when it is not JSON).
nlohmann::json body_of(const HttpResponse& response);
// The "result_text" of an answer; "" when absent or null.
std::string result_text(const HttpResponse& response);
// The "reason" of an error body; "" when absent.
std::string reason_of(const HttpResponse& response);
// GET base_url + "/status" with the admin token; null on any failure.
nlohmann::json status_of(const std::string& base_url);
// Milliseconds from start until now.
long long ms_since(std::chrono::steady_clock::time_point start);
// This process's resident memory in MiB (a TestGateway runs in it: the gateway's); -1 if unknown.
long resident_mib();
// A TCP connection to 127.0.0.1:port (receive_buffer > 0 sets SO_RCVBUF first); -1 on failure.
int connect_loopback(int port, int receive_buffer = 0);
// Polls until pred() holds or the time is up; returns whether it held.
bool wait_until(const std::function<bool()>& pred, std::chrono::steady_clock::duration limit,
                std::chrono::steady_clock::duration every = std::chrono::milliseconds(100));

}  // namespace ci::test
