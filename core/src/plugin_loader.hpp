#pragma once
// Loads the plugins named in config.toml with Boost.DLL and checks their ABI before use.
#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "code_interpreter/plugin/auth_provider.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "code_interpreter/plugin/storage_provider.hpp"
#include "config.hpp"

namespace ci {

// Keeps each plugin's library loaded for as long as the objects it made live: members are
// destroyed in reverse order, so the objects go before the libraries.
class LoadedPlugins {
public:
    LoadedPlugins() = default;
    LoadedPlugins(LoadedPlugins&&) = default;
    LoadedPlugins& operator=(LoadedPlugins&&) = default;
    ~LoadedPlugins();

    std::vector<boost::dll::shared_library> libraries;
    std::unique_ptr<plugin::IsolationBackend> isolation;
    std::unique_ptr<plugin::StorageProvider> storage;  // optional
    std::unique_ptr<plugin::AuthProvider> auth;
};

// Loads every [plugins.<name>] entry. Exactly one isolation and one auth plugin are required, at
// most one storage plugin. Throws std::runtime_error with one line saying which plugin and why.
LoadedPlugins load_plugins(const GatewayConfig& config);

}  // namespace ci
