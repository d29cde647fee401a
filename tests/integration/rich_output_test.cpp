// The fields /execute answers beside the seed's: separate streams, every display, the exception,
// truncation, on the real stack.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "code_interpreter/protocol/base64.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

constexpr int kMaxOutputBytes = 200000;  // room for two small plots

class RichOutputTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>(
            "rich", TestGatewayOptions{.min_idle = 1, .max_total = 4, .timeout_s = 30,
                                       .execution_toml = "max_output_bytes = " + std::to_string(kMaxOutputBytes)});
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
    }

    // POST /api/v1/execute; expects 200.
    static json run(const std::string& user, const std::string& code) {
        auto r = http_request("POST", gateway_->url("/api/v1/execute"), json{{"user_uuid", user}, {"code", code}}.dump(),
                              kUserToken);
        EXPECT_EQ(r.status, 200) << r.body.substr(0, 500);
        return body_of(r);
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

bool is_png(const json& base64) {
    if (!base64.is_string()) return false;
    auto bytes = protocol::base64_decode(base64.get<std::string>());
    return bytes && bytes->size() > 1000 && bytes->substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8);
}

TEST_F(RichOutputTest, TwoPlotsGiveTwoImagesAndStreamsStaySeparate) {
    auto j = run(user_of(1), "import sys\nimport matplotlib.pyplot as plt\n"
                             "print('out one')\nprint('err one', file=sys.stderr)\n"
                             "plt.plot([1, 2]); plt.show()\nplt.plot([2, 1]); plt.show()\nprint('out two')");
    EXPECT_TRUE(j["error"].is_null()) << j["error"].dump();
    EXPECT_EQ(j["stdout"], "out one\nout two\n");
    EXPECT_EQ(j["stderr"], "err one\n");
    ASSERT_EQ(j["outputs"].size(), 2u) << j["outputs"].dump().substr(0, 300);
    for (const auto& output : j["outputs"]) {
        EXPECT_EQ(output["type"], "display_data");
        EXPECT_TRUE(is_png(output["data"]["image/png"]));
        EXPECT_TRUE(output["data"].contains("text/plain"));
        EXPECT_TRUE(output["metadata"].is_object());
    }
    EXPECT_NE(j["outputs"][0]["data"]["image/png"], j["outputs"][1]["data"]["image/png"]);
    // The seed's fields are unchanged: the last image, and text without the images.
    EXPECT_EQ(j["result_base64"], j["outputs"][1]["data"]["image/png"]);
    std::string text = j["result_text"];
    for (const char* part : {"out one\n", "err one\n", "out two\n"}) EXPECT_NE(text.find(part), std::string::npos) << text;
    EXPECT_EQ(text.find("Figure"), std::string::npos) << text;
    EXPECT_EQ(j["truncated"], false);
    EXPECT_TRUE(j["duration_ms"].is_number_unsigned());
    EXPECT_TRUE(j["execution_count"].is_number_integer());
    EXPECT_EQ(j["new_session"], true);
}

TEST_F(RichOutputTest, AnExceptionFillsTheErrorFieldAndAResultIsAnOutput) {
    auto j = run(user_of(2), "def f():\n    raise ValueError('bad value')\nprint('before')\nf()");
    EXPECT_EQ(j["stdout"], "before\n");
    ASSERT_TRUE(j["error"].is_object()) << j.dump();
    EXPECT_EQ(j["error"]["ename"], "ValueError");
    EXPECT_EQ(j["error"]["evalue"], "bad value");
    ASSERT_TRUE(j["error"]["traceback"].is_array());
    ASSERT_FALSE(j["error"]["traceback"].empty());
    for (const auto& line : j["error"]["traceback"]) EXPECT_EQ(line.get<std::string>().find('\x1b'), std::string::npos);
    EXPECT_NE(j["error"]["traceback"].back().get<std::string>().find("ValueError: bad value"), std::string::npos);

    auto result = run(user_of(2), "40 + 2");
    ASSERT_EQ(result["outputs"].size(), 1u) << result.dump();
    EXPECT_EQ(result["outputs"][0]["type"], "execute_result");
    EXPECT_EQ(result["outputs"][0]["data"]["text/plain"], "42");
    EXPECT_TRUE(result["error"].is_null());
    EXPECT_EQ(result["new_session"], false);
}

TEST_F(RichOutputTest, OutputBeyondTheLimitIsCutAndMarked) {
    auto j = execute_as(gateway_->url(""), user_of(3), "print('x' * 400000)\nprint('never seen')");
    ASSERT_EQ(j.status, 200) << j.body.substr(0, 300);
    auto body = body_of(j);
    EXPECT_EQ(body["truncated"], true);
    EXPECT_LE(body["stdout"].get<std::string>().size(), static_cast<std::size_t>(kMaxOutputBytes));
    EXPECT_EQ(body["stdout"].get<std::string>().find("never seen"), std::string::npos);
}

}  // namespace
}  // namespace ci::test
