// The stateful execution path end to end: HTTP -> gateway -> Docker worker -> agent -> ipykernel.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

const char* const kUserA = "11111111-1111-4111-8111-111111111111";
const char* const kUserB = "22222222-2222-4222-8222-222222222222";

class GatewayTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { gateway_ = std::make_unique<TestGateway>("api", TestGatewayOptions{.min_idle = 2, .max_total = 6, .timeout_s = 10}); }

    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();  // stops: every worker must go
        EXPECT_EQ(count_containers(instance), 0) << "containers of " << instance << " left behind";
        EXPECT_FALSE(std::filesystem::exists(run_dir_of(instance))) << run_dir_of(instance) << " not cleaned";
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    static HttpResponse post(const std::string& path, const json& body, const std::string& token = kUserToken) {
        return http_request("POST", gateway_->url(path), body.dump(), token);
    }

    static std::string url() { return gateway_->url(""); }

    static json execute(const std::string& user, const std::string& code) {
        auto r = execute_as(url(), user, code);
        EXPECT_EQ(r.status, 200) << r.body;
        return body_of(r);
    }

    static std::string text_of(const std::string& user, const std::string& code) {
        auto j = execute(user, code);
        return j["result_text"].is_string() ? j["result_text"].get<std::string>() : "<null>";
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

std::string base64_decode(const std::string& in) {
    std::string out(in.size() / 4 * 3 + 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) return {};
    out.resize(static_cast<std::size_t>(n));
    return out;
}

TEST_F(GatewayTest, HealthNeedsNoToken) {
    auto r = http_request("GET", gateway_->url("/health"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json::parse(r.body)["status"], "ok");
}

// What came back on fd before it closed or went quiet for half a second.
std::string read_until_quiet(int fd) {
    std::string got;
    char buffer[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 500) <= 0) return got;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return got + "<closed>";
        got.append(buffer, static_cast<std::size_t>(n));
    }
}

// HTTP/1.1 keeps the connection without being asked (RFC 9112, 9.3), HTTP/1.0 says close: a client
// that sends no Connection header (curl, urllib) must not pay a new connection per request.
TEST_F(GatewayTest, Http11ConnectionsStayOpenWithoutAConnectionHeader) {
    const std::string base = url();
    const int port = std::stoi(base.substr(base.rfind(':') + 1));
    const std::string head = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const int fd = connect_loopback(port);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
        const std::string answer = read_until_quiet(fd);
        EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << "answer " << i + 1 << ": " << answer;
        EXPECT_NE(answer.find("Connection: Keep-Alive\r\n"), std::string::npos) << answer;
        EXPECT_EQ(answer.find("<closed>"), std::string::npos) << "answer " << i + 1 << ": " << answer;
    }
    ::close(fd);

    const int old = connect_loopback(port);
    ASSERT_GE(old, 0);
    const std::string head10 = "GET /health HTTP/1.0\r\n\r\n";
    ASSERT_EQ(::send(old, head10.data(), head10.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head10.size()));
    const std::string answer = read_until_quiet(old);
    ::close(old);
    EXPECT_NE(answer.find(" 200 "), std::string::npos) << answer;
    // The client closes it (Pistache 0.0.5 leaves that to the client, or to keepalive_timeout).
    EXPECT_NE(answer.find("Connection: Close\r\n"), std::string::npos) << answer;
}

TEST_F(GatewayTest, MissingOrWrongTokenGets401WithJsonBody) {
    auto missing = post("/execute", {{"user_uuid", kUserA}, {"code", "1"}}, "");
    EXPECT_EQ(missing.status, 401);
    EXPECT_EQ(reason_of(missing), "unauthorized");
    auto wrong = post("/execute", {{"user_uuid", kUserA}, {"code", "1"}}, "not-the-token-at-all");
    EXPECT_EQ(wrong.status, 401);
    EXPECT_NE(json::parse(wrong.body)["detail"].get<std::string>().find("invalid token"), std::string::npos);
}

TEST_F(GatewayTest, StatePersistsAcrossCalls) {
    EXPECT_EQ(execute(kUserA, "a = 41")["result_text"], nullptr);
    EXPECT_EQ(text_of(kUserA, "print(a + 1)"), "42\n");
    EXPECT_EQ(text_of(kUserA, "def f(x):\n    return x * a\nimport math"), "<null>");
    EXPECT_EQ(text_of(kUserA, "f(2), math.floor(2.5)"), "(82, 2)");
}

TEST_F(GatewayTest, UsersCannotSeeEachOthersVariables) {
    execute(kUserA, "secret_of_a = 'hidden'");
    std::string text = text_of(kUserB, "secret_of_a");
    EXPECT_NE(text.find("NameError"), std::string::npos) << text;
    EXPECT_EQ(text.find("hidden"), std::string::npos) << text;
}

TEST_F(GatewayTest, ExceptionReturnsItsTracebackWithoutColours) {
    std::string text = text_of(kUserA, "print('before')\n1/0");
    EXPECT_EQ(text.rfind("before\n", 0), 0u) << text;
    EXPECT_NE(text.find("ZeroDivisionError"), std::string::npos) << text;
    EXPECT_NE(text.find("division by zero"), std::string::npos) << text;
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
}

TEST_F(GatewayTest, MatplotlibPlotReturnsAValidPng) {
    auto j = execute(kUserA,
                     "import matplotlib.pyplot as plt\nprint('plotting')\nplt.plot([1, 3, 2])\nplt.title('t')\nplt.show()");
    ASSERT_TRUE(j["result_base64"].is_string()) << j.dump().substr(0, 500);
    std::string png = base64_decode(j["result_base64"].get<std::string>());
    ASSERT_GT(png.size(), 1000u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(j["result_text"], "plotting\n");
}

TEST_F(GatewayTest, ReleaseThenExecuteStartsClean) {
    const char* user = "33333333-3333-4333-8333-333333333333";
    execute(user, "x = 'kept'");
    EXPECT_EQ(text_of(user, "print(x)"), "kept\n");
    auto released = post("/release", {{"user_uuid", user}});
    EXPECT_EQ(released.status, 200) << released.body;
    EXPECT_EQ(json::parse(released.body)["status"], "ok");
    EXPECT_EQ(text_of(user, "print('x' in globals())"), "False\n");
    EXPECT_EQ(post("/release", {{"user_uuid", user}}).status, 200);
    auto unknown = post("/release", {{"user_uuid", "44444444-4444-4444-8444-444444444444"}});
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(reason_of(unknown), "not_found");
}

// /execute is the original project's route: its validation failures answer 422, as the original's do.
TEST_F(GatewayTest, BadRequestsGetJsonErrorsAndTheGatewayKeepsServing) {
    auto malformed = http_request("POST", gateway_->url("/execute"), "{\"user_uuid\": ", kUserToken);
    EXPECT_EQ(malformed.status, 422);
    EXPECT_EQ(reason_of(malformed), "validation_failed");
    EXPECT_EQ(post("/execute", {{"user_uuid", kUserA}}).status, 422);
    EXPECT_EQ(post("/execute", {{"code", "1"}}).status, 422);
    EXPECT_EQ(post("/execute", {{"user_uuid", "not-a-uuid"}, {"code", "1"}}).status, 422);
    EXPECT_EQ(post("/execute", {{"user_uuid", kUserA}, {"code", 5}}).status, 422);
    EXPECT_EQ(http_request("POST", gateway_->url("/execute"), "[1,2]", kUserToken).status, 422);
    auto big = post("/execute", {{"user_uuid", kUserA}, {"code", std::string(1100 * 1024, '#')}});
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(reason_of(big), "payload_too_large");
    auto wrong_method = http_request("GET", gateway_->url("/execute"), "", kUserToken);
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(http_request("GET", gateway_->url("/nope"), "", kUserToken).status, 404);
    EXPECT_EQ(text_of(kUserA, "print('still here')"), "still here\n");
}

TEST_F(GatewayTest, ApiV1RoutesTakeUserUuidFromTheQuery) {
    const char* user = "55555555-5555-4555-8555-555555555555";
    auto r = http_request("POST", gateway_->url(std::string("/api/v1/execute?user_uuid=") + user),
                          json{{"code", "v = 7\nprint(v)"}}.dump(), kUserToken);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["result_text"], "7\n");
    EXPECT_EQ(text_of(user, "print(v * 6)"), "42\n");  // same session through the old path
    auto released = http_request("POST", gateway_->url(std::string("/api/v1/release?user_uuid=") + user), "", kUserToken);
    EXPECT_EQ(released.status, 200) << released.body;
    EXPECT_EQ(http_request("GET", gateway_->url("/api/v1/health")).status, 200);
}

TEST_F(GatewayTest, StatusNeedsTheAdminToken) {
    EXPECT_EQ(http_request("GET", gateway_->url("/status"), "", kUserToken).status, 403);
    auto r = http_request("GET", gateway_->url("/status"), "", kAdminToken);
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["limits"]["max_total_workers"], 6);
    EXPECT_GE(j["total_workers"].get<int>(), j["idle_workers"].get<int>() + j["busy_workers"].get<int>());
    EXPECT_GE(j["sessions"].get<int>(), 0);
    EXPECT_EQ(http_request("GET", gateway_->url("/api/v1/status"), "", kAdminToken).status, 200);
}

TEST_F(GatewayTest, RequestsOfOneUserRunOneAtATimeInOrder) {
    const char* user = "66666666-6666-4666-8666-666666666666";
    execute(user, "import time\nlog = []");
    auto first = std::async(std::launch::async, [&] {
        return execute_as(url(), user, "time.sleep(1.0)\nlog.append('first')");
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto second = execute_as(url(), user, "log.append('second')\nprint(log)");
    EXPECT_EQ(first.get().status, 200);
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_EQ(json::parse(second.body)["result_text"], "['first', 'second']\n");
}

TEST_F(GatewayTest, TimeoutRecyclesTheWorkerAndTheNextCallGetsAFreshSession) {
    const char* user = "77777777-7777-4777-8777-777777777777";
    execute(user, "marker = 1");
    auto started = std::chrono::steady_clock::now();
    auto r = execute_as(url(), user, "import time\ntime.sleep(60)");
    auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(reason_of(r), "timeout");
    EXPECT_NE(body_of(r)["detail"].get<std::string>().find("time limit"), std::string::npos);
    EXPECT_LT(waited, std::chrono::seconds(30));
    EXPECT_EQ(text_of(user, "print('marker' in globals())"), "False\n");
}

TEST(PoolLimit, NoWorkerLeftGives503WithRetryAfter) {
    std::string instance;
    {
        TestGateway gateway("exhaust", TestGatewayOptions{.min_idle = 0, .max_total = 1, .timeout_s = 30});
        instance = gateway.instance();
        auto first = execute_as(gateway.url(""), kUserA, "print(1)");
        ASSERT_EQ(first.status, 200) << first.body;
        auto second = execute_as(gateway.url(""), kUserB, "print(1)");
        EXPECT_EQ(second.status, 503) << second.body;
        EXPECT_EQ(reason_of(second), "pool_exhausted");
        EXPECT_EQ(second.headers["retry-after"], "5");
    }
    EXPECT_EQ(count_containers(instance), 0);
    EXPECT_EQ(volume_leftovers(instance), "");
}

}  // namespace
}  // namespace ci::test
