#include "token_auth.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "code_interpreter/crypto/crypto.hpp"
#include "token_store.hpp"

namespace ci::auth {
namespace {

// A token given inline wins; otherwise the file (created when absent). Read before anything is
// created, so a misspelt key fails the start without leaving a token file behind.
struct TokenSource {
    std::string inline_token;
    std::string file;

    TokenSource(plugin::Settings& settings, const std::string& config_dir, const char* inline_key,
                const char* file_key, const char* default_file)
        : inline_token(settings.text(inline_key, "", plugin::Settings::Empty::allowed)),
          file(settings.path(file_key, default_file, config_dir)) {
        if (!inline_token.empty() && inline_token.size() < 16) settings.fail(inline_key, "must be at least 16 characters");
    }
    std::string token() const { return inline_token.empty() ? load_or_create_token(file) : inline_token; }
};

// A tenant's name: it becomes part of session keys, log lines and metric labels.
bool valid_tenant_name(const std::string& name) {
    if (name.empty() || name.size() > 64 || name == "default") return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
}

// The tenants of the inline table and of the file, checked: names valid and unique, tokens long
// enough and unlike every other token.
std::vector<std::pair<std::string, std::string>> load_tenants(plugin::Settings& settings,
                                                              const plugin::PluginContext& ctx) {
    std::vector<std::pair<std::string, std::string>> tenants;
    if (settings.has("tenants")) {
        const auto& table = ctx.config["tenants"];
        if (!table.is_object()) settings.fail("tenants", "expected a table of tenant name = token");
        for (const auto& [name, token] : table.items()) {
            if (!token.is_string()) settings.fail("tenants." + name, "expected the tenant's token as a string");
            tenants.emplace_back(name, token.get<std::string>());
        }
    }
    if (settings.has("tenants_file"))
        for (auto& tenant : read_tenant_tokens(settings.path("tenants_file", "", ctx.config_dir)))
            tenants.push_back(std::move(tenant));
    for (std::size_t i = 0; i < tenants.size(); ++i) {
        const auto& [name, token] = tenants[i];
        if (!valid_tenant_name(name))
            settings.fail("tenants", "tenant name '" + name +
                                         "' must be 1 to 64 letters, digits, '-', '_' or '.', and not 'default'");
        if (token.size() < 16 || token.size() > 4096)
            settings.fail("tenants", "the token of tenant '" + name + "' must be 16 to 4096 characters");
        for (std::size_t j = 0; j < i; ++j) {
            if (tenants[j].first == name) settings.fail("tenants", "tenant '" + name + "' is named twice");
            if (crypto::constant_time_equal(tenants[j].second, token))
                settings.fail("tenants", "tenants '" + tenants[j].first + "' and '" + name + "' have the same token");
        }
    }
    return tenants;
}

}  // namespace

TokenAuthConfig load_token_auth_config(const plugin::PluginContext& ctx) {
    plugin::Settings settings = ctx.settings();
    TokenAuthConfig config;
    std::string header = settings.text("header", config.header);
    std::transform(header.begin(), header.end(), header.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    config.header = header;
    const TokenSource user(settings, ctx.config_dir, "token", "token_file", "var/auth_token.txt");
    const TokenSource admin(settings, ctx.config_dir, "admin_token", "admin_token_file", "var/admin_token.txt");
    config.tenants = load_tenants(settings, ctx);
    settings.reject_unknown({"tenants"});
    config.user_token = user.token();
    config.admin_token = admin.token();
    if (crypto::constant_time_equal(config.user_token, config.admin_token))
        throw std::invalid_argument("the user token and the admin token must differ");
    for (const auto& [name, token] : config.tenants)
        if (crypto::constant_time_equal(token, config.user_token) || crypto::constant_time_equal(token, config.admin_token))
            throw std::invalid_argument("the token of tenant '" + name + "' must differ from the user and the admin token");
    return config;
}

std::optional<std::string> presented_token(const plugin::AuthRequest& request, const std::string& header) {
    for (const auto& [name, value] : request.headers)
        if (name == header) return value;
    // What MCP clients and most HTTP tooling send (RFC 6750); the scheme is case-insensitive.
    for (const auto& [name, value] : request.headers) {
        if (name != "authorization" || value.size() < 7) continue;
        std::string scheme = value.substr(0, 7);
        std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
        if (scheme == "bearer ") return value.substr(7);
    }
    return std::nullopt;
}

TokenAuth::TokenAuth(TokenAuthConfig config) : config_(std::move(config)) {}

plugin::AuthDecision TokenAuth::authenticate(const plugin::AuthRequest& request) const {
    plugin::AuthDecision decision;
    const auto presented = presented_token(request, config_.header);
    if (!presented) {
        decision.reason = "missing " + config_.header + " header (or Authorization: Bearer)";
        return decision;
    }
    // Compare against every token every time so timing does not tell which one nearly matched.
    bool is_admin = crypto::constant_time_equal(*presented, config_.admin_token);
    bool is_user = crypto::constant_time_equal(*presented, config_.user_token);
    const std::string* tenant = nullptr;
    for (const auto& [name, token] : config_.tenants)
        if (crypto::constant_time_equal(*presented, token)) tenant = &name;
    if (tenant) {
        decision.allowed = true;
        decision.tenant = *tenant;
        decision.principal = "tenant:" + *tenant;
        return decision;
    }
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
