#pragma once
// ABI contract between the gateway and its plugins.
//
// A plugin is a shared library that exports, with BOOST_DLL_ALIAS:
//   ci_plugin_info                -> ci::plugin::PluginInfo()              (always)
//   ci_create_isolation_backend   -> IsolationFactory   (kind == isolation)
//   ci_create_storage_provider    -> StorageFactory     (kind == storage)
//   ci_create_auth_provider       -> AuthFactory        (kind == auth)
// The loader reads PluginInfo first and refuses the library unless abi_version == kAbiVersion.
// Plugins and gateway must be built with the same compiler and standard library: the SDK passes
// std::string, std::vector and nlohmann::json across the boundary.
#include <cstdint>

namespace ci::plugin {

// Bump on any change to an SDK header that alters layout, virtual tables or factory signatures.
inline constexpr std::uint32_t kAbiVersion = 6;

enum class PluginKind : std::uint32_t { isolation = 1, storage = 2, auth = 3 };

struct PluginInfo {
    std::uint32_t abi_version = 0;
    PluginKind kind = PluginKind::isolation;
    const char* name = "";     // short name, e.g. "docker-backend"
    const char* version = "";  // the plugin's own version
};

inline constexpr const char* kInfoSymbol = "ci_plugin_info";
inline constexpr const char* kIsolationFactorySymbol = "ci_create_isolation_backend";
inline constexpr const char* kStorageFactorySymbol = "ci_create_storage_provider";
inline constexpr const char* kAuthFactorySymbol = "ci_create_auth_provider";

inline const char* to_string(PluginKind kind) {
    switch (kind) {
        case PluginKind::isolation: return "isolation";
        case PluginKind::storage: return "storage";
        case PluginKind::auth: return "auth";
    }
    return "unknown";
}

}  // namespace ci::plugin
