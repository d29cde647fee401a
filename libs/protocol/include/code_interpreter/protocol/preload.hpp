#pragma once
// The modules a worker's kernel imports before the worker counts as ready ([worker] preload in
// config.toml): the gateway checks the names, the backends hand them to the agent as one
// comma-separated --preload argument (plugin::preload_argument), and the agent checks them again
// before they reach Python.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ci::protocol {

inline constexpr std::size_t kMaxPreloadModules = 64;
inline constexpr std::size_t kMaxModuleNameLength = 200;

// A dotted Python module path of ASCII identifiers ("numpy", "matplotlib.pyplot"): nothing that
// could be anything but an import once written into Python source.
bool is_module_name(std::string_view name);

// "a,b.c" -> {"a", "b.c"}; nullopt when an entry is not a module name, repeats, or there are more
// than kMaxPreloadModules. The empty string is the empty list.
std::optional<std::vector<std::string>> parse_preload_list(std::string_view list);

}  // namespace ci::protocol
