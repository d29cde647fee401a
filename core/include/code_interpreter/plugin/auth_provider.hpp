#pragma once
// Auth provider: request headers in, principal and role (or a refusal) out.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "code_interpreter/plugin/context.hpp"

namespace ci::plugin {

enum class Role { user, admin };

struct AuthRequest {
    // Header names are lower-case; values as received.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string path;
};

struct AuthDecision {
    bool allowed = false;
    Role role = Role::user;
    std::string principal;  // who, for logs and metrics: never a secret
    // Whose sessions: callers of one tenant share sessions by user_uuid, and see nothing of other
    // tenants' sessions (the same user_uuid of another tenant is another session). Empty: the
    // default tenant. When set, 1 to 64 letters, digits, '-', '_' or '.'.
    std::string tenant;
    std::string reason;     // why refused, for the 401 body: never a secret
};

class AuthProvider {
public:
    virtual ~AuthProvider() = default;
    // Called from several threads at once.
    virtual AuthDecision authenticate(const AuthRequest& request) const = 0;
};

using AuthFactory = std::unique_ptr<AuthProvider>(const PluginContext&);

}  // namespace ci::plugin
