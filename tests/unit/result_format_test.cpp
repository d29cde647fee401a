#include <gtest/gtest.h>

#include "result_format.hpp"

namespace ci {
namespace {

protocol::OutputItem stream(const std::string& name, const std::string& text) {
    protocol::OutputItem o;
    o.type = "stream";
    o.name = name;
    o.text = text;
    return o;
}

protocol::OutputItem display(nlohmann::json data, const std::string& type = "display_data") {
    protocol::OutputItem o;
    o.type = type;
    o.data = std::move(data);
    return o;
}

TEST(ResultFormat, StripsAnsiColourCodes) {
    EXPECT_EQ(strip_ansi("\x1b[0;31mZeroDivisionError\x1b[0m: x"), "ZeroDivisionError: x");
    EXPECT_EQ(strip_ansi("a\x1b]0;title\x07" "b"), "ab");
    EXPECT_EQ(strip_ansi("plain"), "plain");
}

TEST(ResultFormat, EmptyResultGivesNulls) {
    protocol::ExecutionResult r;
    r.status = "ok";
    auto j = seed_response(r);
    EXPECT_TRUE(j.at("result_text").is_null());
    EXPECT_TRUE(j.at("result_base64").is_null());
}

TEST(ResultFormat, KeepsStreamsInOrderThenResultText) {
    protocol::ExecutionResult r;
    r.outputs = {stream("stdout", "a\n"), stream("stderr", "warn\n"), stream("stdout", "b"),
                 display({{"text/plain", "42"}}, "execute_result")};
    EXPECT_EQ(seed_response(r).at("result_text"), "a\nwarn\nb\n42");
}

TEST(ResultFormat, OutputBeforeAnImageAndAnErrorIsKept) {
    protocol::ExecutionResult r;
    protocol::OutputItem error;
    error.type = "error";
    error.ename = "ValueError";
    error.evalue = "bad";
    error.traceback = {"\x1b[0;31m---------\x1b[0m", "\x1b[0;31mValueError\x1b[0m: bad"};
    r.outputs = {stream("stdout", "before\n"),
                 display({{"image/png", "AAAA\nBBBB"}, {"text/plain", "<Figure size 640x480 with 1 Axes>"}}),
                 display({{"image/png", "LAST"}}), error};
    auto j = seed_response(r);
    EXPECT_EQ(j.at("result_text"), "before\n---------\nValueError: bad");
    EXPECT_EQ(j.at("result_base64"), "LAST");
}

TEST(ResultFormat, TextOnlyDisplayIsText) {
    protocol::ExecutionResult r;
    r.outputs = {display({{"text/plain", "shown"}})};
    EXPECT_EQ(seed_response(r).at("result_text"), "shown");
}

TEST(ResultFormat, TruncationIsMarked) {
    protocol::ExecutionResult r;
    r.truncated = true;
    r.outputs = {stream("stdout", "xxxx")};
    EXPECT_NE(seed_response(r).at("result_text").get<std::string>().find("[output truncated"), std::string::npos);
}

}  // namespace
}  // namespace ci
