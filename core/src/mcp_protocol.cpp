#include "mcp_protocol.hpp"

#include <algorithm>
#include <cctype>

namespace ci::mcp {
namespace {

using nlohmann::json;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// The media types of an Accept or Content-Type value, lower-case, without parameters.
std::vector<std::string> media_types(std::string_view value) {
    std::vector<std::string> out;
    while (!value.empty()) {
        const auto comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        item = trimmed(item.substr(0, item.find(';')));
        if (!item.empty()) out.push_back(lower(item));
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return out;
}

bool admits(const std::vector<std::string>& accepted, std::string_view type) {
    const std::string family = std::string(type.substr(0, type.find('/'))) + "/*";
    return std::any_of(accepted.begin(), accepted.end(),
                       [&](const std::string& a) { return a == type || a == "*/*" || a == family; });
}

json string_property(std::string_view description) { return {{"type", "string"}, {"description", description}}; }

}  // namespace

bool supported_version(std::string_view version) {
    return std::find(std::begin(kVersions), std::end(kVersions), version) != std::end(kVersions);
}

std::string negotiate_version(std::string_view requested) {
    return std::string(supported_version(requested) ? requested : kVersions[0]);
}

std::variant<Message, RpcFailure> parse_message(const json& body) {
    if (body.is_array()) return RpcFailure{kInvalidRequest, "batches are not supported: send one message per POST"};
    if (!body.is_object()) return RpcFailure{kInvalidRequest, "a JSON-RPC message must be an object"};
    if (body.value("jsonrpc", json()) != "2.0") return RpcFailure{kInvalidRequest, "\"jsonrpc\" must be \"2.0\""};
    Message m{};
    const auto id = body.find("id");
    const bool has_id = id != body.end();
    if (has_id && !id->is_string() && !id->is_number_integer())
        return RpcFailure{kInvalidRequest, "\"id\" must be a string or an integer"};
    const auto method = body.find("method");
    if (method == body.end()) {
        if (!has_id || (!body.contains("result") && !body.contains("error")))
            return RpcFailure{kInvalidRequest, "a message needs a \"method\", or an \"id\" with a \"result\" or \"error\""};
        m.kind = Message::Kind::response;
        m.id = *id;
        return m;
    }
    if (!method->is_string()) return RpcFailure{kInvalidRequest, "\"method\" must be a string"};
    m.kind = has_id ? Message::Kind::request : Message::Kind::notification;
    m.id = has_id ? *id : json();
    m.method = method->get<std::string>();
    if (const auto params = body.find("params"); params != body.end()) {
        if (!params->is_object()) return RpcFailure{kInvalidParams, "\"params\" must be an object"};
        m.params = *params;
    }
    return m;
}

json rpc_result(const json& id, json result) { return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}; }

json rpc_error(const json& id, int code, std::string_view message) {
    return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

json progress_notification(const json& token, std::uint64_t progress, std::string_view message) {
    return {{"jsonrpc", "2.0"},
            {"method", "notifications/progress"},
            {"params", {{"progressToken", token}, {"progress", progress}, {"message", message}}}};
}

std::optional<json> progress_token(const json& params) {
    const auto meta = params.find("_meta");
    if (meta == params.end() || !meta->is_object()) return std::nullopt;
    const auto token = meta->find("progressToken");
    if (token == meta->end() || !(token->is_string() || token->is_number_integer())) return std::nullopt;
    return *token;
}

std::string id_key(const json& id) { return (id.is_string() ? "s:" + id.get<std::string>() : "n:" + id.dump()); }

bool origin_allowed(std::string_view origin, const std::vector<std::string>& cors_allowed_origins) {
    if (origin.empty()) return true;
    const std::string o = lower(origin);
    for (const auto& allowed : cors_allowed_origins)
        if (allowed == "*" || lower(allowed) == o) return true;
    for (std::string_view scheme : {"http://", "https://"}) {
        if (!o.starts_with(scheme)) continue;
        std::string_view host = std::string_view(o).substr(scheme.size());
        for (std::string_view loopback : {"localhost", "127.0.0.1", "[::1]"}) {
            if (!host.starts_with(loopback)) continue;
            std::string_view rest = host.substr(loopback.size());
            if (rest.empty()) return true;
            if (rest.front() != ':' || rest.size() == 1) continue;
            rest.remove_prefix(1);
            if (std::all_of(rest.begin(), rest.end(), [](unsigned char c) { return std::isdigit(c); })) return true;
        }
    }
    return false;
}

bool accepts_json_and_events(std::string_view accept) {
    const auto accepted = media_types(accept);
    return admits(accepted, "application/json") && admits(accepted, "text/event-stream");
}

bool is_json_content_type(std::string_view content_type) {
    const auto types = media_types(content_type);
    return types.size() == 1 && types.front() == "application/json";
}

json initialize_result(const std::string& version, std::string_view server_version) {
    return {{"protocolVersion", version},
            {"capabilities", {{"tools", {{"listChanged", false}}}}},
            {"serverInfo", {{"name", "code-interpreter"}, {"title", "Python sandbox"}, {"version", server_version}}},
            {"instructions",
             "Runs Python in a persistent, isolated session: variables, imports and files stay from one run_python "
             "call to the next until reset_session. numpy, pandas and matplotlib are installed; figures come back "
             "as images. The working directory is /sandbox; upload_file, download_file and list_files work there."}};
}

const json& tool_definitions() {
    static const json tools = json::array({
        {{"name", "run_python"},
         {"title", "Run Python"},
         {"description",
          "Run Python code in this conversation's persistent Jupyter kernel and return what it printed, the "
          "value of the last expression and any figures (matplotlib plots come back as PNG images). State "
          "persists between calls. An exception is reported as an error with its traceback; fix the code and "
          "run again. Long computations can be cancelled."},
         {"inputSchema",
          {{"type", "object"},
           {"properties", {{"code", string_property("Python source to run, e.g. \"import pandas as pd\\npd.__version__\"")}}},
           {"required", {"code"}},
           {"additionalProperties", false}}}},
        {{"name", "upload_file"},
         {"title", "Upload a file"},
         {"description",
          "Write a file into the session's working directory (/sandbox), making missing parent directories. "
          "Give the content either as text (UTF-8) or as base64 for binary files."},
         {"inputSchema",
          {{"type", "object"},
           {"properties",
            {{"path", string_property("Path relative to /sandbox (or an absolute /sandbox/... path), e.g. \"data/input.csv\"")},
             {"text", string_property("The file's content as text")},
             {"base64", string_property("The file's content, base64-encoded (for binary files)")},
             {"overwrite", {{"type", "boolean"}, {"description", "Replace an existing file (default true)"}}}}},
           {"required", {"path"}},
           {"additionalProperties", false}}}},
        {{"name", "download_file"},
         {"title", "Download a file"},
         {"description",
          "Read a file from the session's working directory: text files come back as text, images as images, "
          "other files as an embedded resource holding their bytes."},
         {"inputSchema",
          {{"type", "object"},
           {"properties", {{"path", string_property("Path relative to /sandbox (or an absolute /sandbox/... path)")}}},
           {"required", {"path"}},
           {"additionalProperties", false}}}},
        {{"name", "list_files"},
         {"title", "List files"},
         {"description",
          "List a directory of the session's working directory: each entry's name, type (file, directory, "
          "symlink, other), size in bytes and modification time."},
         {"inputSchema",
          {{"type", "object"},
           {"properties", {{"path", string_property("Directory relative to /sandbox (default \".\")")}}},
           {"additionalProperties", false}}}},
        {{"name", "reset_session"},
         {"title", "Reset the session"},
         {"description",
          "Discard the Python session: its variables, imports and files are gone, and the next run_python starts "
          "in a fresh kernel."},
         {"inputSchema", {{"type", "object"}, {"properties", json::object()}, {"additionalProperties", false}}}},
    });
    return tools;
}

}  // namespace ci::mcp
