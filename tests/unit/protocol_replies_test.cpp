// What the gateway checks of an agent's messages before reading them: each operation's reply
// shape, streamed outputs, the depth cap checked before parsing, and the largest reply accepted.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/replies.hpp"

namespace ci::protocol {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string defect(std::string_view op, const json& body) { return reply_defect(op, body).value_or("none"); }

const json kStream = {{"type", "stream"}, {"name", "stdout"}, {"text", "hi"}};
const json kFile = {{"path", "a.txt"}, {"size", 2}};

TEST(ProtocolReplies, WellFormedRepliesPass) {
    EXPECT_EQ(defect("ping", {{"ok", true}, {"ready", true}}), "none");
    EXPECT_EQ(defect("execute", {{"ok", true}, {"result", {{"status", "ok"}, {"outputs", {kStream}}, {"execution_count", 3},
                                                           {"truncated", false}, {"duration_ms", 5}}}}),
              "none");
    EXPECT_EQ(defect("interrupt", {{"ok", true}, {"interrupted", false}}), "none");
    EXPECT_EQ(defect("file_write", {{"ok", true}, {"file", kFile}}), "none");
    EXPECT_EQ(defect("file_read", {{"ok", true}, {"file", kFile}, {"data_base64", "aGk="}, {"offset", 0}}), "none");
    EXPECT_EQ(defect("file_list", {{"ok", true}, {"path", "."},
                                   {"entries", {{{"name", "a"}, {"type", "file"}, {"size", 2}, {"modified_unix_ms", 1}}}}}),
              "none");
    EXPECT_EQ(defect("file_delete", {{"ok", true}}), "none");
    EXPECT_EQ(defect("execute", {{"ok", false}, {"error", "kernel died"}}), "none");
    EXPECT_EQ(defect("file_read", {{"ok", false}, {"error", "no"}, {"error_kind", "not_found"}}), "none");
}

TEST(ProtocolReplies, AFieldOfTheWrongTypeOrMissingIsNamed) {
    EXPECT_THAT(defect("file_read", {{"ok", false}, {"error", "no"}, {"error_kind", 5}}),
                HasSubstr("\"error_kind\" is not a string"));
    EXPECT_THAT(defect("execute", {{"ok", false}}), HasSubstr("missing \"error\""));
    EXPECT_THAT(defect("ping", {{"ok", "yes"}}), HasSubstr("\"ok\" is not a boolean"));
    EXPECT_THAT(defect("execute", {{"ok", true}}), HasSubstr("missing \"result\""));
    EXPECT_THAT(defect("execute", {{"ok", true}, {"result", {{"status", "ok"}, {"outputs", {kStream}}, {"truncated", 1}}}}),
                HasSubstr("\"truncated\" is not a boolean"));
    EXPECT_THAT(defect("interrupt", {{"ok", true}, {"interrupted", "yes"}}), HasSubstr("\"interrupted\""));
    EXPECT_THAT(defect("file_write", {{"ok", true}, {"file", {{"path", "a"}, {"size", -1}}}}),
                HasSubstr("\"size\" is not a non-negative integer"));
    EXPECT_THAT(defect("file_read", {{"ok", true}, {"file", kFile}, {"data_base64", 1}}), HasSubstr("\"data_base64\""));
    EXPECT_THAT(defect("file_list", {{"ok", true}, {"path", "."}, {"entries", {1}}}), HasSubstr("not an object"));
}

TEST(ProtocolReplies, OutputsAreCheckedByType) {
    EXPECT_FALSE(output_defect(kStream));
    EXPECT_FALSE(output_defect({{"type", "error"}, {"ename", "E"}, {"evalue", "v"}, {"traceback", {"a", "b"}}}));
    EXPECT_FALSE(output_defect({{"type", "display_data"}, {"data", json::object()}, {"metadata", json::object()}}));
    EXPECT_FALSE(output_defect(
        {{"type", "execute_result"}, {"data", json::object()}, {"metadata", json::object()}, {"execution_count", 1}}));
    EXPECT_THAT(*output_defect({{"type", "stream"}, {"name", "stdout"}, {"text", 5}}), HasSubstr("\"text\""));
    EXPECT_THAT(*output_defect({{"type", "error"}, {"ename", "E"}, {"evalue", "v"}, {"traceback", {1}}}),
                HasSubstr("an array of strings"));
    EXPECT_THAT(*output_defect({{"type", "display_data"}, {"data", "x"}, {"metadata", json::object()}}), HasSubstr("\"data\""));
    EXPECT_THAT(*output_defect({{"type", "surprise"}}), HasSubstr("unknown output type"));
    EXPECT_THAT(*output_defect(5), HasSubstr("not an object"));
}

TEST(ProtocolReplies, DepthIsMeasuredWithoutParsingAndStringsDoNotCount) {
    EXPECT_FALSE(json_deeper_than(R"({"a": [1, {"b": 2}]})", 3));
    EXPECT_TRUE(json_deeper_than(R"({"a": [1, {"b": 2}]})", 2));
    EXPECT_FALSE(json_deeper_than(R"({"a": "[[[[[[\"[[[["})", 1));
    EXPECT_TRUE(json_deeper_than(std::string(100000, '['), kMaxJsonDepth));
}

TEST(ProtocolReplies, ASignedBodyTooDeepIsRefusedAndSaysItWasSigned) {
    const std::string key(64, 'k');
    std::string text = "{\"id\":1,\"x\":" + std::string(1000, '[') + std::string(1000, ']') + "}";
    auto decoded = decode_message(key, {std::string(kWireVersion), crypto::hmac_sha256_hex(key, {kWireVersion, text}), text});
    EXPECT_FALSE(decoded.body);
    EXPECT_TRUE(decoded.signed_by_key);
    EXPECT_THAT(decoded.error, HasSubstr("deeper"));
    auto forged = decode_message(key, {std::string(kWireVersion), std::string(64, '0'), text});
    EXPECT_FALSE(forged.signed_by_key);
}

TEST(ProtocolReplies, TheLargestReplyCoversAFileReadAndSixBytesPerOutputByte) {
    EXPECT_GE(max_reply_bytes(1), (kMaxFileBytes + 2) / 3 * 4);
    EXPECT_GE(max_reply_bytes(kMaxOutputBytesCeiling), 6 * kMaxOutputBytesCeiling);
}

}  // namespace
}  // namespace ci::protocol
