#pragma once
// AuthProvider that accepts a user token and an admin token in one header (X-Auth-Token by
// default) or as "Authorization: Bearer <token>". The admin token is accepted everywhere; the user token everywhere but admin routes
// (the core asks for the admin role there). Tenants' tokens, each named, are user tokens whose
// callers see only their own tenant's sessions; the user and the admin token share the default
// tenant.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "code_interpreter/plugin/auth_provider.hpp"

namespace ci::auth {

struct TokenAuthConfig {
    std::string header = "x-auth-token";  // lower-case
    std::string user_token;
    std::string admin_token;
    std::vector<std::pair<std::string, std::string>> tenants;  // tenant name -> its token
};

// Reads the plugin table: header, token, token_file, admin_token, admin_token_file, tenants (an
// inline table of name = token), tenants_file.
// Throws std::invalid_argument for an invalid table, std::runtime_error for unusable files.
TokenAuthConfig load_token_auth_config(const plugin::PluginContext& context);

// The token a request presents: the configured header's value, else an "Authorization: Bearer"
// credential; nullopt when neither is there. Header names are lower-case in an AuthRequest.
std::optional<std::string> presented_token(const plugin::AuthRequest& request, const std::string& header);

class TokenAuth final : public plugin::AuthProvider {
public:
    explicit TokenAuth(TokenAuthConfig config);
    plugin::AuthDecision authenticate(const plugin::AuthRequest& request) const override;

private:
    TokenAuthConfig config_;
};

}  // namespace ci::auth
