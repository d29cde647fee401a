#pragma once
// What every plugin factory receives. A factory that cannot start (invalid configuration, missing
// resource) throws a std::exception whose what() names the key or resource and the problem; that is
// the only exception a plugin may let escape, and only from its factory.
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "code_interpreter/plugin/settings.hpp"

namespace ci::plugin {

enum class LogLevel { debug, info, warn, error };

struct PluginContext {
    std::string name;        // the table name in [plugins.<name>]
    std::string config_dir;  // directory of config.toml; resolve relative paths against it
    nlohmann::json config;   // the plugin's own table, without the loader's "path" key
    // Writes one line to the gateway's log. Never pass secrets or user code.
    std::function<void(LogLevel, const std::string&)> log;

    // The plugin's table, read with types, ranges and defaults checked (settings.hpp); errors name
    // the key as plugins.<name>.<key>.
    Settings settings() const { return Settings(config, "plugins." + name); }
};

}  // namespace ci::plugin
