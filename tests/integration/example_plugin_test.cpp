// A real gateway that authenticates with the example plugin (examples/plugins/auth-allowlist)
// instead of auth-token: the configuration of TestGateway with its [plugins.auth-token] table
// replaced by the example's, real Docker workers and kernels behind it.
#include <gtest/gtest.h>
#include <curl/curl.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "api_helpers.hpp"
#include "config.hpp"
#include "gateway.hpp"
#include "plugin_loader.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

const std::string kBearerUser = "allowlist-user-token-0123456789";
const std::string kBearerAdmin = "allowlist-admin-token-0123456789";

size_t append_body(char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

// One request with exactly the given headers (besides curl's own).
HttpResponse call(const std::string& method, const std::string& url, const std::vector<std::string>& header_lines,
                  const std::string& body = "") {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("curl_easy_init failed");
    curl_slist* raw = curl_slist_append(nullptr, "Content-Type: application/json");
    for (const auto& line : header_lines) raw = curl_slist_append(raw, line.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(raw, curl_slist_free_all);
    HttpResponse response;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
    if (method == "POST") {
        curl_easy_setopt(curl.get(), CURLOPT_POST, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    if (CURLcode rc = curl_easy_perform(curl.get()); rc != CURLE_OK)
        throw std::runtime_error(std::string("HTTP request failed: ") + curl_easy_strerror(rc));
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

std::string detail_of(const HttpResponse& response) {
    auto body = body_of(response);
    return body.is_object() && body.contains("detail") && body["detail"].is_string() ? body["detail"].get<std::string>()
                                                                                   : "";
}

// TestGateway's configuration with the example plugin as the auth plugin.
std::string allowlist_gateway_toml(const std::string& instance) {
    TestGatewayOptions options;
    options.min_idle = 1;
    options.max_total = 2;
    options.timeout_s = 30;
    options.loop_disk = false;
    toml::table root = toml::parse(gateway_toml(instance, options));
    toml::table& plugins = *root["plugins"].as_table();
    if (!plugins.erase("auth-token")) throw std::logic_error("the test gateway's configuration has no auth-token table");
    plugins.insert("allowlist", toml::table{
                                    {"path", CI_BUILD_DIR "/plugins/libci_auth_allowlist.so"},
                                    {"tokens", toml::array{kBearerUser}},
                                    {"admin_tokens", toml::array{kBearerAdmin}},
                                });
    std::ostringstream out;
    out << root;
    return out.str();
}

class ExamplePluginGatewayTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        instance_ = instance_name("allowlist");
        try {
            GatewayConfig config = parse_config(allowlist_gateway_toml(instance_), CI_SOURCE_DIR);
            validate(config);
            gateway_ = std::make_unique<Gateway>(config, load_plugins(config));
            gateway_->start();
        } catch (const std::exception& e) {
            start_error_ = e.what();
            gateway_.reset();
        }
    }

    static void TearDownTestSuite() {
        if (gateway_) gateway_->stop();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance_), 0) << "containers of " << instance_ << " left behind";
        std::error_code ec;
        std::filesystem::remove(run_dir_of(instance_), ec);  // the backend's per-instance directory
    }

    void SetUp() override { ASSERT_NE(gateway_, nullptr) << "the gateway did not start: " << start_error_; }

    static std::string url(const std::string& path) {
        return "http://127.0.0.1:" + std::to_string(gateway_->port()) + path;
    }

    static HttpResponse execute(const std::vector<std::string>& headers, const std::string& code, int user = 1) {
        return call("POST", url("/execute"), headers, nlohmann::json{{"user_uuid", user_of(0xa110 + user)}, {"code", code}}.dump());
    }

    static inline std::string instance_;
    static inline std::string start_error_;
    static inline std::unique_ptr<Gateway> gateway_;
};

TEST_F(ExamplePluginGatewayTest, ARightBearerTokenExecutesCodeInAPersistentSession) {
    const std::vector<std::string> auth = {"Authorization: Bearer " + kBearerUser};
    auto first = execute(auth, "x = 6 * 7\nprint(x)");
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(result_text(first), "42\n") << first.body;
    auto second = execute(auth, "print(x + 1)");
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_EQ(result_text(second), "43\n") << second.body;
}

TEST_F(ExamplePluginGatewayTest, AWrongBearerTokenGets401WithThePluginsReason) {
    const std::string wrong = "allowlist-user-token-9876543210";
    auto response = execute({"Authorization: Bearer " + wrong}, "print('must not run')", 2);
    EXPECT_EQ(response.status, 401) << response.body;
    EXPECT_EQ(reason_of(response), "unauthorized") << response.body;
    EXPECT_EQ(detail_of(response), "authentication required: unknown bearer token") << response.body;
    EXPECT_EQ(response.body.find(wrong), std::string::npos) << "the token is echoed: " << response.body;
}

TEST_F(ExamplePluginGatewayTest, OtherCredentialsGet401) {
    auto missing = execute({}, "print(1)", 3);
    EXPECT_EQ(missing.status, 401) << missing.body;
    EXPECT_EQ(detail_of(missing),
              "authentication required: missing Authorization header (expected 'Authorization: Bearer <token>')");
    // auth-token is not loaded: its header and token open nothing.
    auto other_plugin = execute({std::string("X-Auth-Token: ") + kUserToken}, "print(1)", 3);
    EXPECT_EQ(other_plugin.status, 401) << other_plugin.body;
    auto basic = execute({"Authorization: Basic dXNlcjpwYXNzd29yZA=="}, "print(1)", 3);
    EXPECT_EQ(basic.status, 401) << basic.body;
    EXPECT_EQ(detail_of(basic), "authentication required: the Authorization header does not use the Bearer scheme");
}

TEST_F(ExamplePluginGatewayTest, StatusNeedsAnAdminToken) {
    auto as_user = call("GET", url("/status"), {"Authorization: Bearer " + kBearerUser});
    EXPECT_EQ(as_user.status, 403) << as_user.body;
    EXPECT_EQ(reason_of(as_user), "forbidden") << as_user.body;
    auto as_admin = call("GET", url("/status"), {"Authorization: Bearer " + kBearerAdmin});
    EXPECT_EQ(as_admin.status, 200) << as_admin.body;
    EXPECT_TRUE(body_of(as_admin).is_object()) << as_admin.body;
}

}  // namespace
}  // namespace ci::test
