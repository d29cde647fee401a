#include "plugin_loader.hpp"

#include <filesystem>
#include <stdexcept>

#include "code_interpreter/plugin/abi.hpp"
#include "log.hpp"

namespace ci {
namespace {

[[noreturn]] void refuse(const PluginEntry& entry, const std::string& why) {
    throw std::runtime_error("plugin '" + entry.name + "' (" + entry.path + "): " + why);
}

plugin::PluginContext make_context(const PluginEntry& entry, const GatewayConfig& config) {
    plugin::PluginContext ctx;
    ctx.name = entry.name;
    ctx.config_dir = config.config_dir;
    ctx.config = entry.settings;
    std::string prefix = "[" + entry.name + "] ";
    ctx.log = [prefix](plugin::LogLevel level, const std::string& message) { log(level, prefix + message); };
    return ctx;
}

// Calls the factory exported under symbol; plugin exceptions stop here with the plugin's name.
template <class Interface>
std::unique_ptr<Interface> create(boost::dll::shared_library& lib, const PluginEntry& entry,
                                  const char* symbol, const GatewayConfig& config) {
    using Factory = std::unique_ptr<Interface>(const plugin::PluginContext&);
    if (!lib.has(symbol)) refuse(entry, std::string("missing factory symbol '") + symbol + "'");
    auto& factory = lib.get_alias<Factory>(symbol);
    std::unique_ptr<Interface> made;
    try {
        made = factory(make_context(entry, config));
    } catch (const std::exception& e) {
        refuse(entry, std::string("failed to start: ") + e.what());
    } catch (...) {
        refuse(entry, "failed to start: unknown exception");
    }
    if (!made) refuse(entry, std::string("factory '") + symbol + "' returned nothing");
    return made;
}

}  // namespace

LoadedPlugins::~LoadedPlugins() {
    auth.reset();
    storage.reset();
    isolation.reset();
}

LoadedPlugins load_plugins(const GatewayConfig& config) {
    LoadedPlugins loaded;
    for (const auto& entry : config.plugins) {
        if (!std::filesystem::exists(entry.path)) refuse(entry, "file not found");
        boost::dll::shared_library lib;
        try {
            lib.load(entry.path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
        } catch (const std::exception& e) {
            refuse(entry, std::string("cannot load: ") + e.what());
        }
        if (!lib.has(plugin::kInfoSymbol))
            refuse(entry, std::string("missing symbol '") + plugin::kInfoSymbol + "': not a code-interpreter plugin");
        auto& info_fn = lib.get_alias<plugin::PluginInfo()>(plugin::kInfoSymbol);
        plugin::PluginInfo info = info_fn();
        if (info.abi_version != plugin::kAbiVersion)
            refuse(entry, "ABI version " + std::to_string(info.abi_version) + " does not match the gateway's " +
                              std::to_string(plugin::kAbiVersion) + ": rebuild the plugin against this SDK");

        switch (info.kind) {
            case plugin::PluginKind::isolation:
                if (loaded.isolation) refuse(entry, "a second isolation plugin; configure exactly one");
                loaded.isolation = create<plugin::IsolationBackend>(lib, entry, plugin::kIsolationFactorySymbol, config);
                break;
            case plugin::PluginKind::storage:
                if (loaded.storage) refuse(entry, "a second storage plugin; configure at most one");
                loaded.storage = create<plugin::StorageProvider>(lib, entry, plugin::kStorageFactorySymbol, config);
                break;
            case plugin::PluginKind::auth:
                if (loaded.auth) refuse(entry, "a second auth plugin; configure exactly one");
                loaded.auth = create<plugin::AuthProvider>(lib, entry, plugin::kAuthFactorySymbol, config);
                break;
            default:
                refuse(entry, "unknown plugin kind " + std::to_string(static_cast<unsigned>(info.kind)));
        }
        log_info("loaded " + std::string(plugin::to_string(info.kind)) + " plugin '" + entry.name + "' (" +
                 info.name + " " + info.version + ")");
        loaded.libraries.push_back(std::move(lib));
    }
    if (!loaded.isolation) throw std::runtime_error("no isolation plugin configured: add a [plugins.<name>] table for one");
    if (!loaded.auth) throw std::runtime_error("no auth plugin configured: add a [plugins.<name>] table for one");
    return loaded;
}

}  // namespace ci
