// Boost.DLL entry points of the auth-token plugin.
#include "code_interpreter/plugin/export.hpp"
#include "token_auth.hpp"

namespace ci::auth {

plugin::PluginInfo plugin_info() {
    return {plugin::kAbiVersion, plugin::PluginKind::auth, "auth-token", "0.1.0"};
}

std::unique_ptr<plugin::AuthProvider> create(const plugin::PluginContext& context) {
    return std::make_unique<TokenAuth>(load_token_auth_config(context));
}

}  // namespace ci::auth

CI_PLUGIN_EXPORT_INFO(ci::auth::plugin_info)
CI_PLUGIN_EXPORT_AUTH(ci::auth::create)
