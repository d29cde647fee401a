#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "code_interpreter/agent/jupyter_message.hpp"

namespace ci::agent {
namespace {

// Computed independently with (the four dicts concatenated, keyed with "test-key"):
//   printf '%s' '{"msg_id":"abc","msg_type":"execute_request"}{}{}{"code":"print(1)"}' |
//     openssl dgst -sha256 -hmac 'test-key'
constexpr const char* kKey = "test-key";
constexpr const char* kHeader = R"({"msg_id":"abc","msg_type":"execute_request"})";
constexpr const char* kContent = R"j({"code":"print(1)"})j";
constexpr const char* kSignature =
    "6d7dea984edf5ee96f709728435c69c55dbb532e90085d79de29df396540a5cf";

std::vector<std::string> known_wire() {
    return {"routing-1", "routing-2", "<IDS|MSG>", kSignature, kHeader, "{}", "{}", kContent};
}

TEST(AgentJupyterMessage, SignMatchesIndependentHmacSha256) {
    EXPECT_EQ(sign(kKey, kHeader, "{}", "{}", kContent), kSignature);
}

TEST(AgentJupyterMessage, ParsesWireMessageWithRoutingIds) {
    std::vector<std::string> frames = known_wire();
    frames.push_back("buffer-bytes");
    ParsedMessage parsed = parse_wire(frames, kKey);
    ASSERT_TRUE(parsed.message) << parsed.error;
    const JupyterMessage& m = *parsed.message;
    EXPECT_EQ(m.identities, (std::vector<std::string>{"routing-1", "routing-2"}));
    EXPECT_EQ(m.msg_type(), "execute_request");
    EXPECT_EQ(m.msg_id(), "abc");
    EXPECT_EQ(m.parent_msg_id(), "");
    EXPECT_EQ(m.content.at("code"), "print(1)");
    EXPECT_EQ(m.buffers, (std::vector<std::string>{"buffer-bytes"}));
}

TEST(AgentJupyterMessage, ParsesWireMessageWithoutRoutingIds) {
    std::vector<std::string> frames = known_wire();
    frames.erase(frames.begin(), frames.begin() + 2);
    ParsedMessage parsed = parse_wire(frames, kKey);
    ASSERT_TRUE(parsed.message) << parsed.error;
    EXPECT_TRUE(parsed.message->identities.empty());
}

TEST(AgentJupyterMessage, RejectsEachTamperedSignedFrame) {
    for (std::size_t index = 3; index <= 7; ++index) {
        std::vector<std::string> frames = known_wire();
        frames[index] = index == 3 ? std::string(64, '0') : std::string(R"({"x":1})");
        ParsedMessage parsed = parse_wire(frames, kKey);
        EXPECT_FALSE(parsed.message) << "frame " << index;
        EXPECT_EQ(parsed.error, "bad signature") << "frame " << index;
    }
}

TEST(AgentJupyterMessage, RejectsWrongKey) {
    ParsedMessage parsed = parse_wire(known_wire(), "other-key");
    EXPECT_FALSE(parsed.message);
    EXPECT_EQ(parsed.error, "bad signature");
}

TEST(AgentJupyterMessage, RejectsMalformedFrames) {
    std::vector<std::string> no_delimiter = known_wire();
    no_delimiter[2] = "<IDS|MSX>";
    EXPECT_FALSE(parse_wire(no_delimiter, kKey).message);

    std::vector<std::string> too_short = known_wire();
    too_short.pop_back();
    EXPECT_FALSE(parse_wire(too_short, kKey).message);

    // Signed correctly, but the content is not a JSON object.
    const std::string header = kHeader;
    std::vector<std::string> not_object = {"<IDS|MSG>", sign(kKey, header, "{}", "{}", "[1]"),
                                           header, "{}", "{}", "[1]"};
    ParsedMessage parsed = parse_wire(not_object, kKey);
    EXPECT_FALSE(parsed.message);
    EXPECT_NE(parsed.error.find("not a JSON object"), std::string::npos);
}

TEST(AgentJupyterMessage, ToWireSignsWhatItSendsAndRoundTrips) {
    JupyterMessage message;
    message.identities = {"id-a"};
    message.header = make_header("kernel_info_request", "session-1", "ci-agent");
    message.parent_header = {{"msg_id", "parent-1"}};
    message.content = {{"code", "1+1"}};
    message.buffers = {"raw"};
    std::vector<std::string> frames = to_wire(message, kKey);
    ASSERT_EQ(frames.size(), 8u);
    EXPECT_EQ(frames[0], "id-a");
    EXPECT_EQ(frames[1], "<IDS|MSG>");
    EXPECT_EQ(frames[2], sign(kKey, frames[3], frames[4], frames[5], frames[6]));
    EXPECT_EQ(frames[7], "raw");

    ParsedMessage parsed = parse_wire(frames, kKey);
    ASSERT_TRUE(parsed.message) << parsed.error;
    EXPECT_EQ(parsed.message->header, message.header);
    EXPECT_EQ(parsed.message->parent_msg_id(), "parent-1");
    EXPECT_EQ(parsed.message->content, message.content);
    EXPECT_EQ(parsed.message->identities, message.identities);
    EXPECT_EQ(parsed.message->buffers, message.buffers);
}

TEST(AgentJupyterMessage, MakeHeaderHasTheSpecFields) {
    nlohmann::json header = make_header("execute_request", "s-1", "ci-agent");
    EXPECT_EQ(header.at("msg_type"), "execute_request");
    EXPECT_EQ(header.at("session"), "s-1");
    EXPECT_EQ(header.at("username"), "ci-agent");
    EXPECT_EQ(header.at("version"), "5.3");
    EXPECT_TRUE(std::regex_match(header.at("date").get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
    std::set<std::string> ids;
    for (int i = 0; i < 100; ++i)
        ids.insert(make_header("x", "s", "u").at("msg_id").get<std::string>());
    EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace ci::agent
