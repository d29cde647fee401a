#pragma once
// AuthProvider that accepts a user token and an admin token in one header (X-Auth-Token by
// default). The admin token is accepted everywhere; the user token everywhere but admin routes
// (the core asks for the admin role there).
#include <string>

#include "code_interpreter/plugin/auth_provider.hpp"

namespace ci::auth {

struct TokenAuthConfig {
    std::string header = "x-auth-token";  // lower-case
    std::string user_token;
    std::string admin_token;
};

// Reads the plugin table: header, token, token_file, admin_token, admin_token_file.
// Throws std::invalid_argument for an invalid table, std::runtime_error for unusable files.
TokenAuthConfig load_token_auth_config(const plugin::PluginContext& context);

class TokenAuth final : public plugin::AuthProvider {
public:
    explicit TokenAuth(TokenAuthConfig config);
    plugin::AuthDecision authenticate(const plugin::AuthRequest& request) const override;

private:
    TokenAuthConfig config_;
};

}  // namespace ci::auth
