// Tenants on the real stack: two tenant applications with their own tokens use the same user_uuid;
// neither can run code in, read, list or delete the files of, stream from, interrupt or release the
// other's session, nor can the default token's callers. Each tenant's calls are counted under its
// principal in /metrics.
#include <gtest/gtest.h>

#include <chrono>
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

constexpr const char* kAlpha = "alpha-tenant-token-0123456789abcdef";
constexpr const char* kBeta = "beta-tenant-token-0123456789abcdef";
constexpr const char* kUser = "5a5a5a5a-0000-4000-8000-000000000001";

class TenantsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        TestGatewayOptions options{.min_idle = 2, .max_total = 6, .timeout_s = 30};
        options.loop_disk = false;
        options.auth_toml = std::string("tenants = { alpha = \"") + kAlpha + "\", beta = \"" + kBeta + "\" }\n";
        gateway_ = std::make_unique<TestGateway>("tenants", options);
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
    }

    static HttpResponse run(const char* token, const std::string& code) {
        return http_send("POST", gateway_->url("/api/v1/execute"), json{{"user_uuid", kUser}, {"code", code}}.dump(),
                         token);
    }
    static HttpResponse call(const std::string& method, const std::string& path, const char* token,
                             const std::string& body = "") {
        return http_send(method, gateway_->url(path), body, token);
    }
    static std::string query(const std::string& path) { return "user_uuid=" + std::string(kUser) + "&path=" + path; }

    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(TenantsTest, ATenantCannotReachAnotherTenantsSessionOfTheSameUserUuid) {
    // Alpha's session: a variable and a file.
    auto made = run(kAlpha, "secret = 'alpha'\nopen('alpha.txt', 'w').write('alpha data')\nsecret");
    ASSERT_EQ(result_text(made), "'alpha'") << made.body;

    // Beta, same user_uuid: a session of its own, without alpha's variable.
    auto beta = run(kBeta, "'secret' in globals()");
    EXPECT_EQ(result_text(beta), "False") << beta.body;
    EXPECT_EQ(body_of(beta)["new_session"], true);

    // Files: not readable, not listed, not deletable.
    EXPECT_EQ(call("GET", "/api/v1/files?" + query("alpha.txt"), kBeta).status, 404);
    auto listed = call("GET", "/api/v1/files/list?" + query("."), kBeta);
    ASSERT_EQ(listed.status, 200) << listed.body;
    EXPECT_EQ(listed.body.find("alpha.txt"), std::string::npos) << listed.body;
    EXPECT_EQ(call("DELETE", "/api/v1/files?" + query("alpha.txt"), kBeta).status, 404);
    auto exported = call("POST", "/api/v1/files/export", kBeta, json{{"user_uuid", kUser}, {"path", "alpha.txt"}}.dump());
    EXPECT_EQ(exported.status, 404) << exported.body;

    // Streaming runs in beta's own session.
    auto streamed = call("POST", "/api/v1/execute/stream", kBeta, json{{"user_uuid", kUser}, {"code", "'secret' in globals()"}}.dump());
    EXPECT_NE(streamed.body.find("False"), std::string::npos) << streamed.body;

    // An interrupt from beta does not reach alpha's running execution.
    auto running = std::async(std::launch::async, [] { return run(kAlpha, "import time\ntime.sleep(2)\nsecret"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto interrupt = call("POST", "/api/v1/interrupt", kBeta, json{{"user_uuid", kUser}}.dump());
    EXPECT_EQ(interrupt.status, 200) << interrupt.body;
    EXPECT_EQ(body_of(interrupt)["interrupted"], false) << "beta's own session was idle";
    EXPECT_EQ(result_text(running.get()), "'alpha'");

    // Releasing as beta ends beta's session only; a second release finds none.
    EXPECT_EQ(call("POST", "/api/v1/release", kBeta, json{{"user_uuid", kUser}}.dump()).status, 200);
    EXPECT_EQ(call("POST", "/api/v1/release", kBeta, json{{"user_uuid", kUser}}.dump()).status, 404);

    // The default tenant (the user token) is a third one.
    auto plain = run(kUserToken, "'secret' in globals()");
    EXPECT_EQ(result_text(plain), "False") << plain.body;
    EXPECT_EQ(call("GET", "/api/v1/files?" + query("alpha.txt"), kUserToken).status, 404);

    // Alpha's session and file are untouched.
    auto kept = run(kAlpha, "secret + ' ' + open('alpha.txt').read()");
    EXPECT_EQ(result_text(kept), "'alpha alpha data'") << kept.body;
    EXPECT_EQ(body_of(kept)["new_session"], false);
    auto file = call("GET", "/api/v1/files?" + query("alpha.txt"), kAlpha);
    EXPECT_EQ(file.status, 200);
    EXPECT_EQ(file.body, "alpha data");
}

TEST_F(TenantsTest, TenantsAreCountedUnderTheirPrincipals) {
    ASSERT_EQ(run(kBeta, "1").status, 200);
    auto metrics = call("GET", "/metrics", kAdminToken);
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("ci_requests_total{principal=\"tenant:beta\"}"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("ci_requests_total{principal=\"admin-token\"}"), std::string::npos);
}

TEST_F(TenantsTest, ATenantTokenIsNoAdminToken) {
    EXPECT_EQ(call("GET", "/api/v1/status", kAlpha).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/status", "not-a-token-of-anyone-0123456789").status, 401);
}

}  // namespace
}  // namespace ci::test
