#include <gtest/gtest.h>

#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/crypto.hpp"

namespace ci::protocol {
namespace {

TEST(Crypto, HmacSha256MatchesRfc4231TestCase2) {
    EXPECT_EQ(hmac_sha256_hex("Jefe", {"what do ya want ", "for nothing?"}),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Crypto, RandomHexHasTheAskedLengthAndVaries) {
    auto a = random_hex(32), b = random_hex(32);
    EXPECT_EQ(a.size(), 64u);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(a, b);
}

TEST(AgentProtocol, RoundTripsASignedMessage) {
    nlohmann::json body = {{"id", 7}, {"op", "execute"}, {"code", "print('é')"}};
    auto frames = encode_message("k3y", body);
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_EQ(frames[0], kWireVersion);
    auto decoded = decode_message("k3y", frames);
    ASSERT_TRUE(decoded.body) << decoded.error;
    EXPECT_EQ(*decoded.body, body);
}

TEST(AgentProtocol, RejectsTamperingWrongKeyAndBadShape) {
    auto frames = encode_message("k3y", {{"id", 1}, {"op", "ping"}});
    EXPECT_EQ(decode_message("other", frames).error, "bad signature");
    auto tampered = frames;
    tampered[2] = R"({"id":1,"op":"execute","code":"x"})";
    EXPECT_EQ(decode_message("k3y", tampered).error, "bad signature");
    auto old_version = frames;
    old_version[0] = "ci-agent/0";
    EXPECT_EQ(decode_message("k3y", old_version).error, "unknown wire version");
    EXPECT_EQ(decode_message("k3y", {frames[0], frames[1]}).error, "expected 3 frames, got 2");
    std::vector<std::string> not_object = {std::string(kWireVersion), hmac_sha256_hex("k3y", {kWireVersion, "[1]"}), "[1]"};
    EXPECT_EQ(decode_message("k3y", not_object).error, "body is not a JSON object");
}

TEST(AgentProtocol, ExecutionResultRoundTrips) {
    ExecutionResult r;
    r.status = "error";
    r.execution_count = 3;
    r.truncated = true;
    OutputItem s;
    s.type = "stream";
    s.name = "stdout";
    s.text = "hi\n";
    OutputItem d;
    d.type = "display_data";
    d.data = {{"image/png", "iVBOR"}, {"text/plain", "<Figure>"}};
    OutputItem e;
    e.type = "error";
    e.ename = "ZeroDivisionError";
    e.evalue = "division by zero";
    e.traceback = {"line 1", "line 2"};
    r.outputs = {s, d, e};
    ExecutionResult back = nlohmann::json(r).get<ExecutionResult>();
    EXPECT_EQ(back.status, "error");
    EXPECT_EQ(back.execution_count, 3);
    EXPECT_TRUE(back.truncated);
    ASSERT_EQ(back.outputs.size(), 3u);
    EXPECT_EQ(back.outputs[0].text, "hi\n");
    EXPECT_EQ(back.outputs[1].data.at("image/png"), "iVBOR");
    EXPECT_EQ(back.outputs[2].traceback.size(), 2u);
}

TEST(AgentProtocol, AnExecutionCountThatIsNotASmallIntegerIsIgnored) {
    for (const char* count : {"1e300", "-1e10", "2.5", "\"7\"", "99999999999"}) {
        auto j = nlohmann::json::parse(std::string(R"({"status":"ok","outputs":[],"execution_count":)") + count + "}");
        EXPECT_EQ(j.get<ExecutionResult>().execution_count, 0) << count;
    }
    EXPECT_EQ(nlohmann::json::parse(R"({"status":"ok","outputs":[],"execution_count":12})").get<ExecutionResult>().execution_count, 12);
}

}  // namespace
}  // namespace ci::protocol
