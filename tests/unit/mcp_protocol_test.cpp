// The MCP endpoint's pure parts: JSON-RPC messages, versions, transport header rules, the tools'
// definitions, and the content its tools answer with.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "code_interpreter/protocol/base64.hpp"
#include "mcp_content.hpp"
#include "mcp_protocol.hpp"
#include "mcp_sessions.hpp"

namespace ci::mcp {
namespace {

using nlohmann::json;

TEST(McpProtocol, NegotiatesAKnownVersionOrOffersTheLatest) {
    EXPECT_EQ(negotiate_version("2025-11-25"), "2025-11-25");
    EXPECT_EQ(negotiate_version("2025-06-18"), "2025-06-18");
    EXPECT_EQ(negotiate_version("2025-03-26"), "2025-03-26");
    EXPECT_EQ(negotiate_version("2024-11-05"), "2025-11-25");
    EXPECT_EQ(negotiate_version(""), "2025-11-25");
    EXPECT_FALSE(supported_version("1900-01-01"));
    EXPECT_FALSE(supported_version("not-a-version"));
}

TEST(McpProtocol, ParsesRequestsNotificationsAndResponses) {
    auto request = std::get<Message>(parse_message({{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/list"}}));
    EXPECT_EQ(request.kind, Message::Kind::request);
    EXPECT_EQ(request.id, 7);
    EXPECT_EQ(request.method, "tools/list");
    EXPECT_TRUE(request.params.is_object());
    auto note = std::get<Message>(parse_message({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}));
    EXPECT_EQ(note.kind, Message::Kind::notification);
    auto response = std::get<Message>(parse_message({{"jsonrpc", "2.0"}, {"id", "a"}, {"result", json::object()}}));
    EXPECT_EQ(response.kind, Message::Kind::response);
}

TEST(McpProtocol, RefusesWhatIsNotOneJsonRpcMessage) {
    auto code_of = [](const json& body) {
        auto parsed = parse_message(body);
        return std::holds_alternative<RpcFailure>(parsed) ? std::get<RpcFailure>(parsed).code : 0;
    };
    EXPECT_EQ(code_of(json::array({{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}})), kInvalidRequest);
    EXPECT_EQ(code_of({{"id", 1}, {"method", "ping"}}), kInvalidRequest);
    EXPECT_EQ(code_of({{"jsonrpc", "1.0"}, {"id", 1}, {"method", "ping"}}), kInvalidRequest);
    EXPECT_EQ(code_of({{"jsonrpc", "2.0"}, {"id", 1.5}, {"method", "ping"}}), kInvalidRequest);
    EXPECT_EQ(code_of({{"jsonrpc", "2.0"}, {"id", 1}, {"method", 3}}), kInvalidRequest);
    EXPECT_EQ(code_of({{"jsonrpc", "2.0"}, {"id", 1}}), kInvalidRequest);
    EXPECT_EQ(code_of({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}, {"params", json::array()}}), kInvalidParams);
    EXPECT_EQ(code_of("text"), kInvalidRequest);
}

TEST(McpProtocol, ProgressTokensAndRequestIdKeys) {
    EXPECT_EQ(progress_token({{"_meta", {{"progressToken", "p"}}}}), json("p"));
    EXPECT_EQ(progress_token({{"_meta", {{"progressToken", 3}}}}), json(3));
    EXPECT_FALSE(progress_token({{"_meta", {{"progressToken", 1.5}}}}));
    EXPECT_FALSE(progress_token(json::object()));
    EXPECT_NE(id_key("1"), id_key(1));
    EXPECT_EQ(id_key(1), id_key(json(1)));
    auto note = progress_notification("p", 2, "hi\n");
    EXPECT_EQ(note["method"], "notifications/progress");
    EXPECT_EQ(note["params"]["progress"], 2);
    EXPECT_FALSE(note.contains("id"));
}

TEST(McpProtocol, OriginsAreLoopbackOrConfigured) {
    const std::vector<std::string> none;
    EXPECT_TRUE(origin_allowed("", none));
    for (const char* origin : {"http://localhost", "http://localhost:6274", "https://127.0.0.1:8443", "http://[::1]:3000"})
        EXPECT_TRUE(origin_allowed(origin, none)) << origin;
    for (const char* origin : {"http://evil.example", "http://localhost.evil.example", "http://127.0.0.1.evil.example:80",
                               "http://localhost:", "http://localhost:80x", "null", "file://"})
        EXPECT_FALSE(origin_allowed(origin, none)) << origin;
    EXPECT_TRUE(origin_allowed("https://App.Example.com", {"https://app.example.com"}));
    EXPECT_TRUE(origin_allowed("http://anything.example", {"*"}));
}

TEST(McpProtocol, AcceptMustAdmitJsonAndEventsAndTheBodyMustBeJson) {
    EXPECT_TRUE(accepts_json_and_events("application/json, text/event-stream"));
    EXPECT_TRUE(accepts_json_and_events("text/event-stream;q=0.9, application/json"));
    EXPECT_TRUE(accepts_json_and_events("*/*"));
    EXPECT_TRUE(accepts_json_and_events("application/*, text/*"));
    EXPECT_FALSE(accepts_json_and_events("application/json"));
    EXPECT_FALSE(accepts_json_and_events("text/event-stream"));
    EXPECT_FALSE(accepts_json_and_events(""));
    EXPECT_TRUE(is_json_content_type("application/json"));
    EXPECT_TRUE(is_json_content_type("Application/JSON; charset=utf-8"));
    EXPECT_FALSE(is_json_content_type("text/plain"));
    EXPECT_FALSE(is_json_content_type(""));
}

TEST(McpProtocol, ToolsHaveDescriptionsAndObjectSchemas) {
    std::set<std::string> names;
    for (const auto& tool : tool_definitions()) {
        names.insert(tool["name"].get<std::string>());
        EXPECT_GT(tool["description"].get<std::string>().size(), 40u) << tool["name"];
        EXPECT_EQ(tool["inputSchema"]["type"], "object") << tool["name"];
        for (const auto& required : tool["inputSchema"].value("required", json::array()))
            EXPECT_TRUE(tool["inputSchema"]["properties"].contains(required.get<std::string>())) << tool["name"];
    }
    EXPECT_EQ(names, (std::set<std::string>{"run_python", "upload_file", "download_file", "list_files", "reset_session"}));
    auto init = initialize_result("2025-06-18", "1.2.3");
    EXPECT_EQ(init["protocolVersion"], "2025-06-18");
    EXPECT_TRUE(init["capabilities"].contains("tools"));
    EXPECT_EQ(init["serverInfo"]["version"], "1.2.3");
}

protocol::OutputItem stream(const char* name, const char* text) {
    protocol::OutputItem item;
    item.type = "stream";
    item.name = name;
    item.text = text;
    return item;
}

TEST(McpContent, AnExecutionBecomesTextAndImageItems) {
    protocol::ExecutionResult result;
    result.status = "ok";
    result.outputs.push_back(stream("stdout", "hello\n"));
    result.outputs.push_back(stream("stderr", "careful\n"));
    protocol::OutputItem plot;
    plot.type = "display_data";
    plot.data = {{"image/png", "iVBORw0K\nGgo="}, {"text/plain", "<Figure>"}};
    result.outputs.push_back(plot);
    protocol::OutputItem value;
    value.type = "execute_result";
    value.data = {{"text/plain", "42"}};
    result.outputs.push_back(value);
    auto answer = execution_result(result, "");
    EXPECT_EQ(answer["isError"], false);
    const auto& content = answer["content"];
    ASSERT_EQ(content.size(), 4u) << content.dump();
    EXPECT_EQ(content[0], json({{"type", "text"}, {"text", "hello\n"}}));
    EXPECT_EQ(content[1]["text"], "[stderr]\ncareful\n");
    EXPECT_EQ(content[2], json({{"type", "image"}, {"data", "iVBORw0KGgo="}, {"mimeType", "image/png"}}));
    EXPECT_EQ(content[3]["text"], "42");
}

TEST(McpContent, AnExceptionIsAnErrorWithItsTracebackAndNothingSaysSo) {
    protocol::ExecutionResult result;
    result.status = "error";
    protocol::OutputItem error;
    error.type = "error";
    error.ename = "ZeroDivisionError";
    error.evalue = "division by zero";
    error.traceback = {"\x1b[0;31mTraceback\x1b[0m", "line 1"};
    result.outputs.push_back(error);
    auto answer = execution_result(result, "expired_idle");
    EXPECT_EQ(answer["isError"], true);
    EXPECT_EQ(answer["content"][0]["text"], "ZeroDivisionError: division by zero\nTraceback\nline 1");
    EXPECT_NE(answer["content"].back()["text"].get<std::string>().find("expired_idle"), std::string::npos);

    protocol::ExecutionResult empty;
    empty.status = "ok";
    EXPECT_EQ(execution_result(empty, "")["content"], json::array({{{"type", "text"}, {"text", "(no output)"}}}));
    auto failed = failure_result({ErrorReason::pool_exhausted, "no worker"});
    EXPECT_EQ(failed["isError"], true);
    EXPECT_EQ(failed["content"][0]["text"], "pool_exhausted: no worker");
}

TEST(McpContent, FilesComeBackAsTextImageOrEmbeddedBytes) {
    EXPECT_EQ(file_result("a.txt", "héllo\n")["content"][0], json({{"type", "text"}, {"text", "héllo\n"}}));
    const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + "rest";
    auto image = file_result("plot.bin", png)["content"][0];
    EXPECT_EQ(image["type"], "image");
    EXPECT_EQ(image["mimeType"], "image/png");
    EXPECT_EQ(protocol::base64_decode(image["data"].get<std::string>()), png);
    const std::string bytes("\x00\x01\xff", 3);
    auto blob = file_result("./data/x.pdf", bytes)["content"][0];
    EXPECT_EQ(blob["type"], "resource");
    EXPECT_EQ(blob["resource"]["uri"], "file:///sandbox/data/x.pdf");
    EXPECT_EQ(blob["resource"]["mimeType"], "application/pdf");
    EXPECT_EQ(protocol::base64_decode(blob["resource"]["blob"].get<std::string>()), bytes);
    // Cut UTF-8 and a NUL byte are not text.
    EXPECT_EQ(file_result("a", "\xc3")["content"][0]["type"], "resource");
    EXPECT_EQ(file_result("a", std::string("a\0b", 3))["content"][0]["type"], "resource");
}

TEST(McpSessions, SessionsBelongToTheirTenantAndAreCapped) {
    Sessions sessions(2);
    auto a = sessions.open({"", "user-a", "2025-11-25"});
    auto b = sessions.open({"billing", "billing/user-b", "2025-11-25"});
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
    EXPECT_EQ(a->size(), 32u);
    EXPECT_FALSE(sessions.open({"", "user-c", "2025-11-25"}));
    EXPECT_EQ(sessions.find(*a, "")->user, "user-a");
    EXPECT_FALSE(sessions.find(*a, "billing"));
    EXPECT_FALSE(sessions.close(*b, ""));
    EXPECT_EQ(sessions.close(*b, "billing"), "billing/user-b");
    EXPECT_FALSE(sessions.find(*b, "billing"));
    EXPECT_TRUE(sessions.open({"", "user-c", "2025-11-25"}));
}

TEST(McpSessions, IdleSessionsExpireUnlessACallIsInFlight) {
    Sessions sessions(10);
    auto busy = *sessions.open({"", "busy", "v"});
    auto idle = *sessions.open({"", "idle", "v"});
    sessions.call_started(busy, "n:1", true);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(sessions.expire(std::chrono::milliseconds(5)), std::vector<std::string>{"idle"});
    EXPECT_FALSE(sessions.find(idle, ""));
    EXPECT_TRUE(sessions.find(busy, ""));
}

TEST(McpSessions, OnlyTheRunningCallIsInterruptedAndCancelledCallsGetNoAnswer) {
    Sessions sessions(10);
    auto id = *sessions.open({"", "u", "v"});
    sessions.call_started(id, "n:1", true);
    sessions.call_started(id, "n:2", true);
    sessions.call_started(id, "n:3", false);
    EXPECT_FALSE(sessions.cancel(id, "n:2"));  // queued: runs, its answer dropped
    EXPECT_FALSE(sessions.cancel(id, "n:9"));  // unknown
    EXPECT_TRUE(sessions.cancel(id, "n:1"));   // running: interrupt it
    EXPECT_TRUE(sessions.call_ended(id, "n:1"));
    EXPECT_TRUE(sessions.call_ended(id, "n:2"));
    EXPECT_FALSE(sessions.call_ended(id, "n:3"));
    EXPECT_FALSE(sessions.cancel(id, "n:1"));  // over already
}

}  // namespace
}  // namespace ci::mcp
