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
    settings.reject_unknown();
    config.user_token = user.token();
    config.admin_token = admin.token();
    if (crypto::constant_time_equal(config.user_token, config.admin_token))
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
    bool is_admin = crypto::constant_time_equal(it->second, config_.admin_token);
    bool is_user = crypto::constant_time_equal(it->second, config_.user_token);
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
