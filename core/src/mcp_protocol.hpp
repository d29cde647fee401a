#pragma once
// The Model Context Protocol as the gateway speaks it at /mcp (docs/mcp.md): JSON-RPC 2.0 messages,
// protocol versions, the transport's header rules and the tools' definitions. No HTTP here: the
// route (routes_mcp.cpp) passes headers and bodies in and sends what comes back.
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::mcp {

// Newest first; the first is what a client asking for another version gets.
inline constexpr std::string_view kVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
// What a request without an MCP-Protocol-Version header is taken to speak (the transport's rule).
inline constexpr std::string_view kVersionWithoutHeader = "2025-03-26";

bool supported_version(std::string_view version);
// The version the server answers an initialize asking for requested with.
std::string negotiate_version(std::string_view requested);

// JSON-RPC 2.0 error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerBusy = -32000;  // implementation-defined: the gateway holds too many MCP sessions

struct Message {
    enum class Kind { request, notification, response } kind;
    nlohmann::json id;  // request and response; null for a notification
    std::string method;
    nlohmann::json params = nlohmann::json::object();
};
struct RpcFailure {
    int code;
    std::string message;
};
// One JSON-RPC message from a client (batches are not taken: 2025-06-18 removed them).
std::variant<Message, RpcFailure> parse_message(const nlohmann::json& body);

nlohmann::json rpc_result(const nlohmann::json& id, nlohmann::json result);
nlohmann::json rpc_error(const nlohmann::json& id, int code, std::string_view message);
// notifications/progress for a tool call that asked for it with _meta.progressToken.
nlohmann::json progress_notification(const nlohmann::json& token, std::uint64_t progress, std::string_view message);
// The request's _meta.progressToken (a string or an integer), if it has one.
std::optional<nlohmann::json> progress_token(const nlohmann::json& params);
// A request id as a map key ("s:abc" or "n:7"), for notifications/cancelled.
std::string id_key(const nlohmann::json& id);

// The transport's header rules.
// Origin: absent, a loopback origin (http or https, localhost, 127.0.0.1 or [::1], any port), or
// one of server.cors_allowed_origins ("*" admits all). Others get 403: a page on another site must
// not reach a gateway listening on the user's machine (DNS rebinding).
bool origin_allowed(std::string_view origin, const std::vector<std::string>& cors_allowed_origins);
// A POST's Accept must admit both application/json and text/event-stream (wildcards count).
bool accepts_json_and_events(std::string_view accept);
// Content-Type application/json, parameters allowed.
bool is_json_content_type(std::string_view content_type);

// initialize's result.
nlohmann::json initialize_result(const std::string& version, std::string_view server_version);
// tools/list's tools.
const nlohmann::json& tool_definitions();

}  // namespace ci::mcp
