// docs/configuration.md documents every setting the gateway and its shipped plugins accept, every
// command-line flag, and nothing else. config.cpp keeps no list of known keys, so the accepted keys
// are taken from what reads them: config.toml, the `Section ... .read("key")` calls of
// core/src/config.cpp, and the known-key lists of the shipped plugins' parsers.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include <toml++/toml.h>

#include "config.hpp"

namespace ci {
namespace {

std::string read_source(const std::string& relative) {
    std::ifstream in(std::string(CI_SOURCE_DIR) + "/" + relative);
    if (!in) throw std::runtime_error("cannot read " + relative);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::set<std::string> quoted_strings(const std::string& text) {
    std::set<std::string> out;
    static const std::regex quoted("\"([^\"]*)\"");
    for (std::sregex_iterator it(text.begin(), text.end(), quoted), end; it != end; ++it) out.insert((*it)[1]);
    return out;
}

// Quoted strings of the brace list that follows `marker` in a source file.
std::set<std::string> brace_list(const std::string& relative, const std::string& marker) {
    const std::string text = read_source(relative);
    const auto at = text.find(marker);
    if (at == std::string::npos) throw std::runtime_error(relative + " has no '" + marker + "': update this test");
    const auto open = text.find('{', at);
    const auto close = text.find('}', open);
    return quoted_strings(text.substr(open, close - open));
}

// `section.key` (and top-level `key`) for every key parse_config reads.
std::set<std::string> gateway_keys() {
    const std::string text = read_source("core/src/config.cpp");
    std::set<std::string> top = brace_list("core/src/config.cpp", "std::set<std::string> sections =");
    std::map<std::string, std::string> sections;  // variable -> table name
    static const std::regex section_decl(R"re(Section (\w+)\(subtable\(root, "([\w-]+)"\))re");
    for (std::sregex_iterator it(text.begin(), text.end(), section_decl), end; it != end; ++it) {
        sections[(*it)[1]] = (*it)[2];
        top.erase((*it)[2]);
    }
    top.erase("plugins");
    std::set<std::string> keys = top;
    static const std::regex read_call(R"re((\w+)\.read(?:_ms)?\("([\w-]+)")re");
    for (std::sregex_iterator it(text.begin(), text.end(), read_call), end; it != end; ++it)
        if (auto s = sections.find((*it)[1]); s != sections.end()) keys.insert(s->second + "." + std::string((*it)[2]));
    return keys;
}

// The known keys of each shipped plugin's table, from its parser.
std::map<std::string, std::set<std::string>> plugin_keys() {
    std::map<std::string, std::set<std::string>> keys = {
        {"auth-token", brace_list("plugins/auth-token/src/token_auth.cpp", "kKeys[] =")},
        {"docker-backend",
         brace_list("plugins/docker-backend/backend_config.cpp", "static const std::set<std::string> keys =")},
        {"loop-disk",
         brace_list("plugins/docker-backend/storage/storage_config.cpp", "static const std::set<std::string> kKnown =")},
    };
    for (auto& [name, set] : keys) set.erase("path");  // the loader's key, documented once
    return keys;
}

std::set<std::string> flags() {
    std::set<std::string> out = {"config", "plugin-setting"};  // handled by parse_command_line itself
    const std::string text = read_source("core/src/config.cpp");
    static const std::regex setter(R"re(\{"([a-z-]+)", \[\]\(GatewayConfig&)re");
    for (std::sregex_iterator it(text.begin(), text.end(), setter), end; it != end; ++it) out.insert((*it)[1]);
    return out;
}

const std::string& doc() {
    static const std::string text = read_source("docs/configuration.md");
    return text;
}

// The first cell of each table row: "| `server.port` | ...".
std::set<std::string> documented_keys() {
    std::set<std::string> out;
    static const std::regex row(R"re(^\| `([A-Za-z0-9_<>][A-Za-z0-9_.<>-]*)` \|)re");
    std::istringstream lines(doc());
    std::smatch m;
    for (std::string line; std::getline(lines, line);)
        if (std::regex_search(line, m, row)) out.insert(m[1]);
    return out;
}

void collect_toml_keys(const toml::table& table, const std::string& prefix, std::set<std::string>& out) {
    for (const auto& [key, node] : table) {
        const std::string path = prefix + std::string(key.str());
        if (const auto* sub = node.as_table())
            collect_toml_keys(*sub, path + ".", out);
        else
            out.insert(path);
    }
}

TEST(ConfigurationDoc, TheKeyListsAreFound) {
    // Guards the extraction itself: an empty list would make the other tests pass vacuously.
    const auto keys = gateway_keys();
    EXPECT_GE(keys.size(), 30u);
    for (const char* key : {"log_level", "server.port", "pool.min_idle_workers", "worker.ram_mb", "execution.timeout"})
        EXPECT_TRUE(keys.count(key)) << key;
    const auto plugins = plugin_keys();
    EXPECT_TRUE(plugins.at("auth-token").count("token_file"));
    EXPECT_TRUE(plugins.at("docker-backend").count("image"));
    EXPECT_TRUE(plugins.at("loop-disk").count("mount_options"));
    EXPECT_TRUE(flags().count("min-idle-workers"));
    EXPECT_GE(documented_keys().size(), keys.size());
}

TEST(ConfigurationDoc, EveryKeyTheGatewayReadsIsDocumented) {
    const auto documented = documented_keys();
    for (const auto& key : gateway_keys()) EXPECT_TRUE(documented.count(key)) << "`" << key << "` is not in docs/configuration.md";
}

TEST(ConfigurationDoc, EveryKeyOfAShippedPluginIsDocumented) {
    const auto documented = documented_keys();
    EXPECT_TRUE(documented.count("plugins.<name>.path"));
    for (const auto& [plugin, keys] : plugin_keys())
        for (const auto& key : keys) {
            const std::string path = "plugins." + plugin + "." + key;
            EXPECT_TRUE(documented.count(path)) << "`" << path << "` is not in docs/configuration.md";
        }
}

TEST(ConfigurationDoc, EveryKeyOfConfigTomlIsDocumented) {
    std::set<std::string> keys;
    collect_toml_keys(toml::parse(read_source("config.toml")), "", keys);
    ASSERT_FALSE(keys.empty());
    const auto documented = documented_keys();
    for (const auto& key : keys) {
        const bool plugin_path = key.rfind("plugins.", 0) == 0 && key.size() > 5 && key.substr(key.size() - 5) == ".path";
        const std::string wanted = plugin_path ? "plugins.<name>.path" : key;
        EXPECT_TRUE(documented.count(wanted)) << "`" << wanted << "` (config.toml) is not in docs/configuration.md";
    }
}

TEST(ConfigurationDoc, EveryCommandLineFlagIsDocumented) {
    for (const auto& flag : flags())
        EXPECT_NE(doc().find("`--" + flag), std::string::npos) << "--" << flag << " is not in docs/configuration.md";
}

TEST(ConfigurationDoc, EveryDocumentedKeyIsAccepted) {
    const auto plugins = plugin_keys();
    for (const auto& key : documented_keys()) {
        if (key.rfind("plugins.", 0) == 0) {
            if (key == "plugins.<name>.path") continue;
            const auto dot = key.find('.', 8);
            ASSERT_NE(dot, std::string::npos) << key;
            const std::string plugin = key.substr(8, dot - 8);
            ASSERT_TRUE(plugins.count(plugin)) << "`" << key << "`: no shipped plugin named " << plugin;
            EXPECT_TRUE(plugins.at(plugin).count(key.substr(dot + 1))) << "`" << key << "` is not a key of " << plugin;
            continue;
        }
        // Any value will do: a wrong type is another error than an unknown key.
        const auto dot = key.find('.');
        const std::string toml = dot == std::string::npos
                                     ? key + " = \"?\"\n"
                                     : "[" + key.substr(0, dot) + "]\n" + key.substr(dot + 1) + " = \"?\"\n";
        try {
            parse_config(toml, CI_SOURCE_DIR);
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()).find("unknown setting"), std::string::npos)
                << "`" << key << "` is documented but the gateway refuses it: " << e.what();
        }
    }
}

}  // namespace
}  // namespace ci
