#include "request_fields.hpp"

#include <algorithm>
#include <cctype>

namespace ci {

bool is_uuid(std::string_view text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
}

std::variant<nlohmann::json, ApiError> parse_body(std::string_view body, std::size_t max_bytes) {
    if (body.size() > max_bytes)
        return ApiError{ErrorReason::payload_too_large, "request body of " + std::to_string(body.size()) +
                                                            " bytes exceeds the limit of " + std::to_string(max_bytes) +
                                                            " bytes (server.max_body_bytes)"};
    if (body.empty()) return nlohmann::json::object();
    auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return ApiError{ErrorReason::bad_request, "request body is not valid JSON"};
    if (!parsed.is_object()) return ApiError{ErrorReason::bad_request, "request body must be a JSON object"};
    return parsed;
}

std::variant<std::string, ApiError> session_owner(const Caller& caller, const nlohmann::json& body,
                                                  const std::optional<std::string>& query) {
    std::string value;
    if (auto it = body.find("user_uuid"); it != body.end()) {
        if (!it->is_string()) return ApiError{ErrorReason::bad_request, "user_uuid must be a string"};
        value = it->get<std::string>();
    } else if (query) {
        value = *query;
    } else {
        return ApiError{ErrorReason::bad_request, "missing field user_uuid"};
    }
    if (!is_uuid(value))
        return ApiError{ErrorReason::bad_request, "user_uuid must be a UUID (8-4-4-4-12 hexadecimal digits)"};
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return caller.tenant.empty() ? value : caller.tenant + "/" + value;
}

std::string_view tenant_of(std::string_view session_key) {
    const auto slash = session_key.find('/');
    return slash == std::string_view::npos ? std::string_view("default") : session_key.substr(0, slash);
}

std::variant<std::string, ApiError> code_field(const nlohmann::json& body) {
    auto code = body.find("code");
    if (code == body.end()) return ApiError{ErrorReason::bad_request, "missing field code"};
    if (!code->is_string()) return ApiError{ErrorReason::bad_request, "code must be a string"};
    return code->get<std::string>();
}

std::variant<bool, ApiError> bool_field(const nlohmann::json& body, const char* name, bool fallback) {
    auto field = body.find(name);
    if (field == body.end() || field->is_null()) return fallback;
    if (!field->is_boolean()) return ApiError{ErrorReason::bad_request, std::string(name) + " must be true or false"};
    return field->get<bool>();
}

std::optional<std::string> percent_decode(std::string_view raw) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '+') {
            out.push_back(' ');
        } else if (raw[i] != '%') {
            out.push_back(raw[i]);
        } else {
            if (i + 2 >= raw.size()) return std::nullopt;
            int high = hex(raw[i + 1]);
            int low = hex(raw[i + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            out.push_back(static_cast<char>(high * 16 + low));
            i += 2;
        }
    }
    return out;
}

std::variant<std::string, ApiError> path_field(const nlohmann::json& body, const std::optional<std::string>& query) {
    std::string path;
    if (auto it = body.find("path"); it != body.end()) {
        if (!it->is_string()) return ApiError{ErrorReason::bad_request, "path must be a string"};
        path = it->get<std::string>();
    } else if (query) {
        auto decoded = percent_decode(*query);
        if (!decoded) return ApiError{ErrorReason::bad_request, "the query's path has a broken %-escape"};
        path = std::move(*decoded);
    } else {
        return ApiError{ErrorReason::bad_request, "missing field path"};
    }
    if (path.empty()) return ApiError{ErrorReason::bad_request, "path must not be empty"};
    return workspace_relative(path);
}

std::string workspace_relative(std::string_view path) {
    constexpr std::string_view sandbox = "/sandbox";
    if (path == sandbox || path == "/sandbox/") return ".";
    if (path.substr(0, sandbox.size() + 1) == "/sandbox/") return std::string(path.substr(sandbox.size() + 1));
    return std::string(path);
}

std::variant<bool, ApiError> flag_field(const nlohmann::json& body, const std::optional<std::string>& query,
                                        const char* name, bool fallback) {
    auto invalid = ApiError{ErrorReason::bad_request, std::string(name) + " must be true or false"};
    if (auto it = body.find(name); it != body.end() && !it->is_null()) {
        if (it->is_boolean()) return it->get<bool>();
        if (it->is_string() && (*it == "true" || *it == "false")) return *it == "true";
        return invalid;
    }
    if (!query) return fallback;
    if (*query == "true" || *query == "1") return true;
    if (*query == "false" || *query == "0") return false;
    return invalid;
}

}  // namespace ci
