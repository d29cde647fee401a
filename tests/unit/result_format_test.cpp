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

protocol::OutputItem exception(const std::string& ename, std::vector<std::string> traceback) {
    protocol::OutputItem o;
    o.type = "error";
    o.ename = ename;
    o.evalue = "bad";
    o.traceback = std::move(traceback);
    return o;
}

TEST(OutputFields, SeparateStreamsKeepEveryDisplayAndTheError) {
    protocol::ExecutionResult r;
    r.status = "error";
    r.execution_count = 7;
    r.duration_ms = 42;
    r.truncated = true;
    auto first = display({{"image/png", "AAAA\nBBBB"}, {"text/plain", "<Figure 1>"}});
    first.metadata = {{"image/png", {{"width", 640}}}};
    r.outputs = {stream("stdout", "a\n"), stream("stderr", "warn\n"), first, stream("stdout", "b"),
                 display({{"image/svg+xml", "<svg>\n</svg>"}}), display({{"text/plain", "42"}}, "execute_result"),
                 exception("ValueError", {"\x1b[0;31mValueError\x1b[0m: bad", "line two"})};
    auto j = output_fields(r);
    EXPECT_EQ(j.at("stdout"), "a\nb");
    EXPECT_EQ(j.at("stderr"), "warn\n");
    ASSERT_EQ(j.at("outputs").size(), 3u);
    EXPECT_EQ(j["outputs"][0], (nlohmann::json{{"type", "display_data"},
                                                {"data", {{"image/png", "AAAABBBB"}, {"text/plain", "<Figure 1>"}}},
                                                {"metadata", {{"image/png", {{"width", 640}}}}}}));
    EXPECT_EQ(j["outputs"][1]["data"]["image/svg+xml"], "<svg>\n</svg>") << "text formats keep their lines";
    EXPECT_EQ(j["outputs"][2]["type"], "execute_result");
    EXPECT_EQ(j["outputs"][2]["metadata"], nlohmann::json::object());
    EXPECT_EQ(j.at("error"), (nlohmann::json{{"ename", "ValueError"},
                                             {"evalue", "bad"},
                                             {"traceback", {"ValueError: bad", "line two"}}}));
    EXPECT_EQ(j.at("execution_count"), 7);
    EXPECT_EQ(j.at("duration_ms"), 42);
    EXPECT_EQ(j.at("truncated"), true);
}

TEST(OutputFields, NoOutputGivesEmptyFieldsAndNullError) {
    protocol::ExecutionResult r;
    r.status = "ok";
    auto j = output_fields(r);
    EXPECT_EQ(j.at("stdout"), "");
    EXPECT_EQ(j.at("stderr"), "");
    EXPECT_EQ(j.at("outputs"), nlohmann::json::array());
    EXPECT_TRUE(j.at("error").is_null());
    EXPECT_EQ(j.at("truncated"), false);
}

TEST(OutputFields, SessionFieldsSayNullForNoPreviousSession) {
    EXPECT_EQ(session_fields(true, ""), (nlohmann::json{{"new_session", true}, {"previous_session", nullptr}}));
    EXPECT_EQ(session_fields(true, "expired_idle")["previous_session"], "expired_idle");
}

TEST(OutputEvent, EachOutputTypeHasItsEvent) {
    auto out = output_event(stream("stdout", "hi\n"));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->name, "stdout");
    EXPECT_EQ(out->data, (nlohmann::json{{"text", "hi\n"}}));
    EXPECT_EQ(output_event(stream("stderr", "x"))->name, "stderr");
    auto shown = output_event(display({{"image/png", "AA\nAA"}}));
    ASSERT_TRUE(shown);
    EXPECT_EQ(shown->name, "display");
    EXPECT_EQ(shown->data["data"]["image/png"], "AAAA");
    EXPECT_EQ(output_event(display({{"text/plain", "1"}}, "execute_result"))->data["type"], "execute_result");
    auto error = output_event(exception("KeyboardInterrupt", {"\x1b[31mKeyboardInterrupt\x1b[0m"}));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->name, "error");
    EXPECT_EQ(error->data["traceback"], (nlohmann::json{"KeyboardInterrupt"}));
    protocol::OutputItem unknown;
    unknown.type = "clear_output";
    EXPECT_FALSE(output_event(unknown));
}

}  // namespace
}  // namespace ci
