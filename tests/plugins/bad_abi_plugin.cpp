// A plugin built against an ABI version the gateway does not have.
#include "code_interpreter/plugin/export.hpp"

namespace {
ci::plugin::PluginInfo info() {
    return {ci::plugin::kAbiVersion + 100, ci::plugin::PluginKind::auth, "bad-abi", "0"};
}
}  // namespace

CI_PLUGIN_EXPORT_INFO(info)
