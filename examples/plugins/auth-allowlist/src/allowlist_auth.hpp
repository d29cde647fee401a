#pragma once
// AllowlistAuth: accepts `Authorization: Bearer <token>` when <token> is one of the configured user
// tokens (role user) or admin tokens (role admin). Tokens are compared in constant time, and every
// configured token is compared on every request, so timing tells neither how much of a token
// matched nor which one did.
#include <string>
#include <string_view>

#include "allowlist_config.hpp"
#include "code_interpreter/plugin/auth_provider.hpp"

namespace ci::example {

// Whether presented equals secret, in a time that depends on secret's length only.
bool constant_time_equal(std::string_view secret, std::string_view presented);

class AllowlistAuth final : public plugin::AuthProvider {
public:
    explicit AllowlistAuth(AllowlistConfig config);
    // Thread-safe: reads only the immutable configuration.
    plugin::AuthDecision authenticate(const plugin::AuthRequest& request) const override;

private:
    AllowlistConfig config_;
};

}  // namespace ci::example
