// A plugin that declares itself an auth plugin but exports no factory.
#include "code_interpreter/plugin/export.hpp"

namespace {
ci::plugin::PluginInfo info() { return {ci::plugin::kAbiVersion, ci::plugin::PluginKind::auth, "no-factory", "0"}; }
}  // namespace

CI_PLUGIN_EXPORT_INFO(info)
