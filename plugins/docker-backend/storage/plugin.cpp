// The loop-disk storage plugin's exported entry points (see code_interpreter/plugin/abi.hpp).
#include <memory>
#include <stdexcept>

#include "code_interpreter/plugin/abi.hpp"
#include "code_interpreter/plugin/export.hpp"
#include "code_interpreter/plugin/storage_provider.hpp"
#include "loop_disk_storage.hpp"
#include "storage_config.hpp"

#ifndef CI_LOOP_DISK_VERSION
#define CI_LOOP_DISK_VERSION "0.1.0"
#endif

namespace {

ci::plugin::PluginInfo loop_disk_info() {
    return ci::plugin::PluginInfo{ci::plugin::kAbiVersion, ci::plugin::PluginKind::storage, "loop-disk",
                                  CI_LOOP_DISK_VERSION};
}

// May throw (the only entry point allowed to): invalid configuration (std::invalid_argument naming
// the key) or a host that cannot make volumes (std::runtime_error: not root, no loop devices, no
// mkfs.ext4, a directory that cannot be made).
std::unique_ptr<ci::plugin::StorageProvider> create_loop_disk_storage(const ci::plugin::PluginContext& context) {
    const std::string table = "plugins." + (context.name.empty() ? std::string("loop-disk") : context.name);
    ci::loopdisk::StorageConfig config = ci::loopdisk::parse_storage_config(context.config, context.config_dir, table);
    return std::make_unique<ci::loopdisk::LoopDiskStorage>(std::move(config), context.log);
}

}  // namespace

CI_PLUGIN_EXPORT_INFO(loop_disk_info)
CI_PLUGIN_EXPORT_STORAGE(create_loop_disk_storage)
