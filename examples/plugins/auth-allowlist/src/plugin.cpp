// The auth-allowlist plugin's entry points: its PluginInfo and its AuthProvider factory, exported
// under the names the gateway's loader looks up (code_interpreter/plugin/abi.hpp).
#include <memory>

#include "allowlist_auth.hpp"
#include "allowlist_config.hpp"
#include "code_interpreter/plugin/export.hpp"

#ifndef CI_AUTH_ALLOWLIST_VERSION
#define CI_AUTH_ALLOWLIST_VERSION "0.1.0"
#endif

namespace {

ci::plugin::PluginInfo allowlist_info() {
    return {ci::plugin::kAbiVersion, ci::plugin::PluginKind::auth, "auth-allowlist", CI_AUTH_ALLOWLIST_VERSION};
}

// The only function of the plugin allowed to throw: the loader turns the exception into one line
// naming the plugin, and the gateway does not start.
std::unique_ptr<ci::plugin::AuthProvider> create_allowlist_auth(const ci::plugin::PluginContext& context) {
    ci::example::AllowlistConfig config = ci::example::parse_allowlist_config(context);
    if (context.log)
        context.log(ci::plugin::LogLevel::info, std::to_string(config.user_tokens.size()) + " user token(s), " +
                                                    std::to_string(config.admin_tokens.size()) + " admin token(s)");
    return std::make_unique<ci::example::AllowlistAuth>(std::move(config));
}

}  // namespace

CI_PLUGIN_EXPORT_INFO(allowlist_info)
CI_PLUGIN_EXPORT_AUTH(create_allowlist_auth)
