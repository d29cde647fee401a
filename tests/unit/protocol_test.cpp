#include <gtest/gtest.h>

#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/base64.hpp"

namespace ci::protocol {
namespace {

using crypto::constant_time_equal;
using crypto::hmac_sha256_hex;
using crypto::random_hex;

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

TEST(AgentProtocol, DurationRoundTripsAndIsZeroWhenAbsentOrMalformed) {
    ExecutionResult r;
    r.status = "ok";
    r.duration_ms = 1234;
    nlohmann::json j = r;
    EXPECT_EQ(j.at("duration_ms"), 1234);
    EXPECT_EQ(j.get<ExecutionResult>().duration_ms, 1234u);
    for (const char* duration : {"", R"(,"duration_ms":-5)", R"(,"duration_ms":2.5)", R"(,"duration_ms":"9")"}) {
        auto parsed = nlohmann::json::parse(std::string(R"({"status":"ok","outputs":[])") + duration + "}");
        EXPECT_EQ(parsed.get<ExecutionResult>().duration_ms, 0u) << duration;
    }
}

TEST(Base64, EncodesTheRfc4648TestVectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(plain), encoded) << plain;
        EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(plain)) << encoded;
    }
}

TEST(Base64, RoundTripsEveryByteValueWithoutLineBreaks) {
    std::string bytes;
    for (int i = 0; i < 3 * 256; ++i) bytes.push_back(static_cast<char>(i % 256));
    const std::string encoded = base64_encode(bytes);
    EXPECT_EQ(encoded.find('\n'), std::string::npos);
    EXPECT_EQ(encoded.size(), 4 * bytes.size() / 3);
    EXPECT_EQ(base64_decode(encoded), bytes);
}

TEST(Base64, RefusesWhatIsNotCanonicalPaddedBase64) {
    for (const char* bad : {"Zg", "Zm9", "Zg=", "Z===", "====", "Zm9v\n", " Zm9v", "Zm9v ", "Zm$v",
                            "Zg==Zm9v", "Z=g=", "Zm9vYg=\n"}) {
        EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
    }
    EXPECT_EQ(base64_decode(std::string_view("Zm\0v", 4)), std::nullopt);
}

}  // namespace
}  // namespace ci::protocol
