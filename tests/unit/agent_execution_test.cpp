#include <string>

#include <gtest/gtest.h>

#include "code_interpreter/agent/execution.hpp"

namespace ci::agent {
namespace {

using nlohmann::json;

constexpr const char* kOurs = "request-1";
constexpr std::uint64_t kNoLimit = 1ULL << 40;
// What an output costs beyond its content.
constexpr std::uint64_t kEach = ExecutionCollector::kOutputOverhead;

JupyterMessage message(const std::string& parent, const std::string& type, json content) {
    JupyterMessage m;
    m.header = {{"msg_id", "m-" + type}, {"msg_type", type}};
    m.parent_header = {{"msg_id", parent}};
    m.content = std::move(content);
    return m;
}

JupyterMessage stream(const std::string& name, const std::string& text,
                      const std::string& parent = kOurs) {
    return message(parent, "stream", {{"name", name}, {"text", text}});
}

JupyterMessage idle(const std::string& parent = kOurs) {
    return message(parent, "status", {{"execution_state", "idle"}});
}

JupyterMessage reply(const std::string& status, int count, const std::string& parent = kOurs) {
    return message(parent, "execute_reply", {{"status", status}, {"execution_count", count}});
}

JupyterMessage display(json data) {
    return message(kOurs, "display_data", {{"data", data}, {"metadata", json::object()}});
}

void finish(ExecutionCollector& collector) {
    collector.on_shell(reply("ok", 1));
    collector.on_iopub(idle());
    ASSERT_TRUE(collector.complete());
}

TEST(AgentExecution, RequestContentRunsVisiblyWithoutStdin) {
    json content = execute_request_content("print(1)", false);
    EXPECT_EQ(content.at("code"), "print(1)");
    EXPECT_EQ(content.at("silent"), false);
    EXPECT_EQ(content.at("store_history"), false);
    EXPECT_EQ(execute_request_content("1", true).at("store_history"), true);
    EXPECT_EQ(content.at("user_expressions"), json::object());
    EXPECT_EQ(content.at("allow_stdin"), false);
    EXPECT_EQ(content.at("stop_on_error"), false);
}

TEST(AgentExecution, CollectsOutputsInOrderWithTheirFields) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_iopub(message(kOurs, "execute_input", {{"code", "x"}, {"execution_count", 3}}));
    collector.on_iopub(message(kOurs, "status", {{"execution_state", "busy"}}));
    collector.on_iopub(stream("stdout", "hi\n"));
    collector.on_iopub(message(kOurs, "display_data",
                               {{"data", {{"image/png", "iVBOR"}, {"text/plain", "<Figure>"}}},
                                {"metadata", {{"image/png", {{"width", 10}}}}}}));
    collector.on_iopub(message(kOurs, "update_display_data", {{"data", {{"text/plain", "u"}}}}));
    collector.on_iopub(message(kOurs, "execute_result",
                               {{"data", {{"text/plain", "2"}}},
                                {"metadata", json::object()},
                                {"execution_count", 3}}));
    collector.on_iopub(message(kOurs, "error",
                               {{"ename", "ZeroDivisionError"},
                                {"evalue", "division by zero"},
                                {"traceback", {"line 1", "line 2"}}}));
    collector.on_shell(reply("error", 3));
    collector.on_iopub(idle());
    ASSERT_TRUE(collector.complete());

    protocol::ExecutionResult result = collector.take_result();
    EXPECT_EQ(result.status, "error");
    EXPECT_EQ(result.execution_count, 3);
    EXPECT_FALSE(result.truncated);
    ASSERT_EQ(result.outputs.size(), 4u);
    EXPECT_EQ(result.outputs[0].type, "stream");
    EXPECT_EQ(result.outputs[0].name, "stdout");
    EXPECT_EQ(result.outputs[0].text, "hi\n");
    EXPECT_EQ(result.outputs[1].type, "display_data");
    EXPECT_EQ(result.outputs[1].data.at("image/png"), "iVBOR");
    EXPECT_EQ(result.outputs[1].metadata.at("image/png").at("width"), 10);
    EXPECT_EQ(result.outputs[2].type, "execute_result");
    EXPECT_EQ(result.outputs[2].data.at("text/plain"), "2");
    EXPECT_EQ(result.outputs[2].execution_count, 3);
    EXPECT_EQ(result.outputs[3].type, "error");
    EXPECT_EQ(result.outputs[3].ename, "ZeroDivisionError");
    EXPECT_EQ(result.outputs[3].evalue, "division by zero");
    EXPECT_EQ(result.outputs[3].traceback, (std::vector<std::string>{"line 1", "line 2"}));
}

TEST(AgentExecution, MergesAStreamOnlyIntoThePreviousItemOfTheSameName) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_iopub(stream("stdout", "a"));
    collector.on_iopub(stream("stdout", "b"));
    collector.on_iopub(stream("stderr", "c"));
    collector.on_iopub(stream("stdout", "d"));
    finish(collector);
    auto outputs = collector.take_result().outputs;
    ASSERT_EQ(outputs.size(), 3u);
    EXPECT_EQ(outputs[0].name, "stdout");
    EXPECT_EQ(outputs[0].text, "ab");
    EXPECT_EQ(outputs[1].name, "stderr");
    EXPECT_EQ(outputs[1].text, "c");
    EXPECT_EQ(outputs[2].name, "stdout");
    EXPECT_EQ(outputs[2].text, "d");
}

TEST(AgentExecution, CompletesOnlyWithBothReplyAndIdleInEitherOrder) {
    ExecutionCollector reply_first(kOurs, 0);
    reply_first.on_shell(reply("ok", 7));
    EXPECT_FALSE(reply_first.complete());
    reply_first.on_iopub(idle());
    EXPECT_TRUE(reply_first.complete());
    EXPECT_EQ(reply_first.take_result().execution_count, 7);

    ExecutionCollector idle_first(kOurs, 0);
    idle_first.on_iopub(idle());
    EXPECT_FALSE(idle_first.complete());
    // Output that arrives on iopub before idle is kept even when the reply comes last.
    idle_first.on_shell(reply("ok", 8));
    EXPECT_TRUE(idle_first.complete());
    protocol::ExecutionResult result = idle_first.take_result();
    EXPECT_EQ(result.status, "ok");
    EXPECT_EQ(result.execution_count, 8);
}

TEST(AgentExecution, IgnoresMessagesForOtherRequests) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_iopub(stream("stdout", "not ours", "request-0"));
    collector.on_iopub(idle("request-0"));
    collector.on_shell(reply("ok", 1, "request-0"));
    collector.on_shell(message(kOurs, "kernel_info_reply", {{"status", "ok"}}));
    EXPECT_FALSE(collector.complete());
    collector.on_iopub(stream("stdout", "ours"));
    finish(collector);
    auto outputs = collector.take_result().outputs;
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(outputs[0].text, "ours");
}

TEST(AgentExecution, ClearOutputDropsWhatCameBefore) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_iopub(stream("stdout", "old"));
    collector.on_iopub(display({{"text/plain", "old"}}));
    collector.on_iopub(message(kOurs, "clear_output", {{"wait", false}}));
    collector.on_iopub(stream("stdout", "new"));
    finish(collector);
    auto outputs = collector.take_result().outputs;
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(outputs[0].text, "new");
}

TEST(AgentExecution, ClearOutputWithWaitClearsWhenTheNextOutputArrives) {
    ExecutionCollector pending(kOurs, kNoLimit);
    pending.on_iopub(stream("stdout", "kept"));
    pending.on_iopub(message(kOurs, "clear_output", {{"wait", true}}));
    finish(pending);
    auto kept = pending.take_result().outputs;
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0].text, "kept");

    ExecutionCollector applied(kOurs, kNoLimit);
    applied.on_iopub(stream("stdout", "frame 1"));
    applied.on_iopub(message(kOurs, "clear_output", {{"wait", true}}));
    applied.on_iopub(stream("stdout", "frame 2"));
    finish(applied);
    auto replaced = applied.take_result().outputs;
    ASSERT_EQ(replaced.size(), 1u);
    EXPECT_EQ(replaced[0].text, "frame 2");
}

TEST(AgentExecution, TruncatesStreamTextAtTheLimitAndKeepsNothingAfterTheCut) {
    // Room for two outputs, one of 10 bytes: the second is cut to 4.
    ExecutionCollector collector(kOurs, 2 * kEach + 10);
    collector.on_iopub(stream("stdout", "hello "));
    collector.on_iopub(stream("stdout", "world wide"));
    collector.on_iopub(stream("stderr", "x"));
    collector.on_iopub(display({{"text/plain", "y"}}));
    collector.on_iopub(message(kOurs, "error", {{"ename", "E"}, {"evalue", "v"}}));
    finish(collector);
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_TRUE(result.truncated);
    // Not even the error: what comes after the cut is not kept.
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].text, "hello worl");
}

TEST(AgentExecution, CutsStreamTextOnAUtf8Boundary) {
    // "a" is 1 byte, "é" 2 bytes, "€" 3 bytes: a 4-byte cut would split the euro sign.
    ExecutionCollector collector(kOurs, kEach + 4);
    collector.on_iopub(stream("stdout", "a\xC3\xA9\xE2\x82\xAC"));
    finish(collector);
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_TRUE(result.truncated);
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].text, "a\xC3\xA9");
}

TEST(AgentExecution, DropsRichOutputThatDoesNotFitWhole) {
    ExecutionCollector collector(kOurs, 2 * kEach + 20);
    collector.on_iopub(stream("stdout", "12345"));
    // "image/png" (9) + 10 bytes: 19, with 15 left.
    collector.on_iopub(display({{"image/png", "0123456789"}}));
    collector.on_iopub(stream("stdout", "6"));  // would fit, but comes after
    finish(collector);
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_TRUE(result.truncated);
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].text, "12345");
}

TEST(AgentExecution, CountsMimeKeysValuesJsonBySerializedSizeAndMetadata) {
    // "text/plain" + "abc" + "text/html" + "defgh": 27; "application/json" + {"a":1}: 23.
    ExecutionCollector collector(kOurs, 2 * kEach + 27 + 22);
    collector.on_iopub(display({{"text/plain", "abc"}, {"text/html", "defgh"}}));
    collector.on_iopub(display({{"application/json", {{"a", 1}}}}));
    finish(collector);
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_TRUE(result.truncated);
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].data.at("text/html"), "defgh");

    // Metadata counts as its serialization: a huge one is no way around the limit.
    ExecutionCollector with_metadata(kOurs, 1000);
    with_metadata.on_iopub(message(kOurs, "display_data",
                                   {{"data", {{"text/plain", "x"}}}, {"metadata", {{"k", std::string(2000, 'x')}}}}));
    finish(with_metadata);
    result = with_metadata.take_result();
    EXPECT_TRUE(result.truncated);
    EXPECT_TRUE(result.outputs.empty());
}

TEST(AgentExecution, OutputExactlyAtTheLimitIsNotTruncated) {
    ExecutionCollector collector(kOurs, 2 * kEach + 6);
    collector.on_iopub(stream("stdout", "abc"));
    collector.on_iopub(stream("stdout", "def"));
    finish(collector);
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_FALSE(result.truncated);
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].text, "abcdef");
}

TEST(AgentExecution, ZeroKeepsNothing) {
    ExecutionCollector collector(kOurs, 0);
    collector.on_iopub(stream("stdout", "x"));
    collector.on_shell(message(kOurs, "execute_reply", {{"status", "error"}, {"ename", "E"}, {"evalue", "v"}}));
    collector.on_iopub(idle());
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_TRUE(result.truncated);
    EXPECT_TRUE(result.outputs.empty());
}

TEST(AgentExecution, ErrorsCountAndLoseTheirTracebackWhenTheyDoNotFit) {
    const json error = {{"ename", "ValueError"}, {"evalue", "bad"}, {"traceback", {std::string(500, 't')}}};
    ExecutionCollector collector(kOurs, kEach + 100);
    collector.on_iopub(message(kOurs, "error", error));
    finish(collector);
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_TRUE(result.truncated);
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].ename, "ValueError");
    EXPECT_EQ(result.outputs[0].evalue, "bad");
    EXPECT_TRUE(result.outputs[0].traceback.empty());

    // Tracebacks repeated without end (showtraceback() in a loop) stop at the limit.
    ExecutionCollector repeated(kOurs, 10000);
    for (int i = 0; i < 1000; ++i) repeated.on_iopub(message(kOurs, "error", error));
    finish(repeated);
    result = repeated.take_result();
    EXPECT_TRUE(result.truncated);
    EXPECT_LT(result.outputs.size(), 20u);
}

TEST(AgentExecution, WithoutStreamingClearedOutputNoLongerCounts) {
    ExecutionCollector collector(kOurs, kEach + 5);
    collector.on_iopub(stream("stdout", "0123456789"));
    collector.on_iopub(message(kOurs, "clear_output", {{"wait", false}}));
    collector.on_iopub(stream("stdout", "abcde"));
    finish(collector);
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_FALSE(result.truncated);
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].text, "abcde");
}

TEST(AgentExecution, WhenStreamingClearOutputNeverResetsWhatWasSent) {
    ExecutionCollector collector(kOurs, 3 * kEach + 30, /*stream=*/true);
    std::size_t sent = 0;
    for (int i = 0; i < 100; ++i) {
        collector.on_iopub(stream("stdout", "0123456789"));
        collector.on_iopub(message(kOurs, "clear_output", {{"wait", false}}));
        for (const auto& event : collector.take_events()) sent += event.text.size();
    }
    finish(collector);
    EXPECT_EQ(sent, 30u);
    EXPECT_TRUE(collector.take_result().truncated);
}

TEST(AgentExecution, ReplyErrorWithoutIopubErrorBecomesAnErrorItem) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_iopub(stream("stdout", "before"));
    collector.on_shell(message(kOurs, "execute_reply",
                               {{"status", "error"},
                                {"execution_count", 2},
                                {"ename", "KeyboardInterrupt"},
                                {"evalue", ""},
                                {"traceback", {"tb"}}}));
    collector.on_iopub(idle());
    ASSERT_TRUE(collector.complete());
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_EQ(result.status, "error");
    ASSERT_EQ(result.outputs.size(), 2u);
    EXPECT_EQ(result.outputs[1].type, "error");
    EXPECT_EQ(result.outputs[1].ename, "KeyboardInterrupt");
    EXPECT_EQ(result.outputs[1].traceback, (std::vector<std::string>{"tb"}));
}

TEST(AgentExecution, ReplyErrorAfterAnIopubErrorAddsNoDuplicate) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_shell(message(kOurs, "execute_reply",
                               {{"status", "error"}, {"ename", "E"}, {"evalue", "v"}}));
    collector.on_iopub(message(kOurs, "error", {{"ename", "E"}, {"evalue", "v"}}));
    collector.on_iopub(idle());
    protocol::ExecutionResult result = collector.take_result();
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].type, "error");
}

TEST(AgentExecution, AbortedReplyAddsNoErrorItem) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_shell(message(kOurs, "execute_reply", {{"status", "aborted"}}));
    collector.on_iopub(idle());
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_EQ(result.status, "aborted");
    EXPECT_EQ(result.execution_count, 0);
    EXPECT_TRUE(result.outputs.empty());
}

TEST(AgentExecution, BadlyTypedFieldsReadAsEmpty) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_iopub(message(kOurs, "stream", {{"name", 1}, {"text", {1, 2}}}));
    collector.on_iopub(message(kOurs, "display_data", {{"data", "not a bundle"}}));
    collector.on_shell(
        message(kOurs, "execute_reply", {{"status", "ok"}, {"execution_count", "x"}}));
    collector.on_iopub(idle());
    protocol::ExecutionResult result = collector.take_result();
    EXPECT_EQ(result.execution_count, 0);
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].type, "display_data");
    EXPECT_EQ(result.outputs[0].data, json::object());
}

TEST(AgentExecution, WithoutStreamThereAreNoEvents) {
    ExecutionCollector collector(kOurs, kNoLimit);
    collector.on_iopub(stream("stdout", "a"));
    collector.on_iopub(display({{"text/plain", "x"}}));
    finish(collector);
    EXPECT_TRUE(collector.take_events().empty());
    EXPECT_EQ(collector.take_result().outputs.size(), 2u);
}

TEST(AgentExecution, StreamEventsFollowTheKernelsOrderOneChunkEach) {
    ExecutionCollector collector(kOurs, kNoLimit, /*stream=*/true);
    collector.on_iopub(message(kOurs, "execute_input", {{"code", "x"}, {"execution_count", 1}}));
    collector.on_iopub(stream("stdout", "a"));
    collector.on_iopub(stream("stdout", "b"));
    collector.on_iopub(stream("stdout", "other", "request-0"));
    auto first = collector.take_events();
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(json(first[0]), json({{"type", "stream"}, {"name", "stdout"}, {"text", "a"}}));
    EXPECT_EQ(first[1].text, "b");
    EXPECT_TRUE(collector.take_events().empty());

    collector.on_iopub(display({{"text/plain", "d"}}));
    collector.on_iopub(message(kOurs, "update_display_data", {{"data", {{"text/plain", "u"}}}}));
    collector.on_iopub(message(kOurs, "execute_result",
                               {{"data", {{"text/plain", "2"}}}, {"execution_count", 1}}));
    collector.on_iopub(message(kOurs, "error", {{"ename", "E"}, {"evalue", "v"}, {"traceback", {"t"}}}));
    auto second = collector.take_events();
    ASSERT_EQ(second.size(), 3u);
    EXPECT_EQ(second[0].type, "display_data");
    EXPECT_EQ(second[0].data.at("text/plain"), "d");
    EXPECT_EQ(second[1].type, "execute_result");
    EXPECT_EQ(second[1].execution_count, 1);
    EXPECT_EQ(second[2].type, "error");
    EXPECT_EQ(second[2].ename, "E");

    // The result is the same as without streaming: the two chunks merged.
    collector.on_shell(reply("error", 1));
    collector.on_iopub(idle());
    auto outputs = collector.take_result().outputs;
    ASSERT_EQ(outputs.size(), 4u);
    EXPECT_EQ(outputs[0].text, "ab");
}

TEST(AgentExecution, StreamEventsRespectTheOutputLimit) {
    ExecutionCollector collector(kOurs, 2 * kEach + 5, /*stream=*/true);
    collector.on_iopub(stream("stdout", "abc"));
    collector.on_iopub(stream("stdout", "defgh"));  // cut to "de"
    collector.on_iopub(stream("stdout", "ijk"));    // dropped
    collector.on_iopub(display({{"text/plain", "x"}}));  // dropped
    collector.on_iopub(message(kOurs, "error", {{"ename", "E"}, {"evalue", ""}, {"traceback", json::array()}}));
    auto events = collector.take_events();
    ASSERT_EQ(events.size(), 2u);  // nothing after the cut, the error neither
    EXPECT_EQ(events[0].text, "abc");
    EXPECT_EQ(events[1].text, "de");
    finish(collector);
    auto result = collector.take_result();
    EXPECT_TRUE(result.truncated);
    EXPECT_EQ(result.outputs[0].text, "abcde");
}

TEST(AgentExecution, AReplyOnlyErrorIsInTheResultButIsNoEvent) {
    ExecutionCollector collector(kOurs, kNoLimit, /*stream=*/true);
    collector.on_shell(message(kOurs, "execute_reply",
                               {{"status", "error"}, {"ename", "E"}, {"evalue", "v"}, {"traceback", json::array()}}));
    collector.on_iopub(idle());
    ASSERT_TRUE(collector.complete());
    EXPECT_TRUE(collector.take_events().empty());
    auto result = collector.take_result();
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].type, "error");
    EXPECT_TRUE(collector.take_events().empty());
}

}  // namespace
}  // namespace ci::agent
