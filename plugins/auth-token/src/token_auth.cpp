#include "token_auth.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "code_interpreter/protocol/crypto.hpp"
#include "token_store.hpp"

namespace ci::auth {
namespace {

const char* const kKeys[] = {"header", "token", "token_file", "admin_token", "admin_token_file"};

std::string string_key(const nlohmann::json& table, const char* key) {
    auto it = table.find(key);
    if (it == table.end()) return {};
    if (!it->is_string()) throw std::invalid_argument(std::string("'") + key + "' must be a string");
    return it->get<std::string>();
}

std::string resolve(const std::string& config_dir, const std::string& path) {
    std::filesystem::path p(path);
    return p.is_absolute() ? p.string() : (std::filesystem::path(config_dir) / p).string();
}

// A token given inline wins; otherwise the file (created when absent).
std::string token_from(const plugin::PluginContext& ctx, const char* inline_key,
                       const char* file_key, const char* default_file) {
    std::string token = string_key(ctx.config, inline_key);
    if (!token.empty()) {
        if (token.size() < 16)
            throw std::invalid_argument(std::string("'") + inline_key + "' must be at least 16 characters");
        return token;
    }
    std::string file = string_key(ctx.config, file_key);
    return load_or_create_token(resolve(ctx.config_dir, file.empty() ? default_file : file));
}

}  // namespace

TokenAuthConfig load_token_auth_config(const plugin::PluginContext& ctx) {
    if (!ctx.config.is_object()) throw std::invalid_argument("the plugin table must be a table");
    for (const auto& [key, value] : ctx.config.items()) {
        if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys))
            throw std::invalid_argument("unknown key '" + key + "'");
    }
    TokenAuthConfig config;
    std::string header = string_key(ctx.config, "header");
    if (!header.empty()) {
        std::transform(header.begin(), header.end(), header.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        config.header = header;
    }
    config.user_token = token_from(ctx, "token", "token_file", "var/auth_token.txt");
    config.admin_token = token_from(ctx, "admin_token", "admin_token_file", "var/admin_token.txt");
    if (protocol::constant_time_equal(config.user_token, config.admin_token))
        throw std::invalid_argument("the user token and the admin token must differ");
    return config;
}

TokenAuth::TokenAuth(TokenAuthConfig config) : config_(std::move(config)) {}

plugin::AuthDecision TokenAuth::authenticate(const plugin::AuthRequest& request) const {
    plugin::AuthDecision decision;
    auto it = std::find_if(request.headers.begin(), request.headers.end(),
                           [&](const auto& h) { return h.first == config_.header; });
    if (it == request.headers.end()) {
        decision.reason = "missing " + config_.header + " header";
        return decision;
    }
    // Compare against both tokens every time so timing does not tell which one nearly matched.
    bool is_admin = protocol::constant_time_equal(it->second, config_.admin_token);
    bool is_user = protocol::constant_time_equal(it->second, config_.user_token);
    if (is_admin || is_user) {
        decision.allowed = true;
        decision.role = is_admin ? plugin::Role::admin : plugin::Role::user;
        decision.principal = is_admin ? "admin-token" : "user-token";
        return decision;
    }
    decision.reason = "invalid token";
    return decision;
}

}  // namespace ci::auth
