// docs/configuration.md documents every setting the gateway and its shipped plugins accept, every
// command-line flag, and nothing else. Nothing keeps a list of known keys, so the accepted keys are
// taken from what reads them: config.toml, and the settings-reader calls (`server.text("host", ...)`)
// of core/src/config.cpp and of the shipped plugins' parsers.
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

// The keys a source file reads with the settings reader (code_interpreter/plugin/settings.hpp):
// `<reader>.text("key", ...)` and the other getters, by reader variable.
std::map<std::string, std::set<std::string>> reads_by_reader(const std::string& text) {
    std::map<std::string, std::set<std::string>> out;
    static const std::regex call(R"re((\w+)\.(?:text|flag|integer|number|seconds|texts|path)(?:<[^>]*>)?\("([\w-]+)")re");
    for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it)
        out[(*it)[1]].insert((*it)[2]);
    return out;
}

std::set<std::string> all_reads(const std::string& relative) {
    std::set<std::string> out;
    for (const auto& [reader, keys] : reads_by_reader(read_source(relative))) out.insert(keys.begin(), keys.end());
    if (out.empty()) throw std::runtime_error(relative + " reads no setting: update this test");
    return out;
}

// `section.key` (and top-level `key`) for every key parse_config reads.
std::set<std::string> gateway_keys() {
    const std::string text = read_source("core/src/config.cpp");
    std::map<std::string, std::string> sections = {{"top", ""}};  // reader variable -> table name
    static const std::regex section_decl(R"re(Settings (\w+)\(section\(doc, "([\w-]+)"\))re");
    for (std::sregex_iterator it(text.begin(), text.end(), section_decl), end; it != end; ++it)
        sections[(*it)[1]] = (*it)[2];
    if (sections.size() < 6) throw std::runtime_error("core/src/config.cpp: the section readers were not found");
    std::set<std::string> keys;
    for (const auto& [reader, read] : reads_by_reader(text))
        if (auto s = sections.find(reader); s != sections.end())
            for (const auto& key : read) keys.insert(s->second.empty() ? key : s->second + "." + key);
    return keys;
}

// The keys of each shipped plugin's table, from its parser (the auth plugin reads its token pairs
// through TokenSource).
std::map<std::string, std::set<std::string>> plugin_keys() {
    std::map<std::string, std::set<std::string>> keys = {
        {"auth-token", all_reads("plugins/auth-token/src/token_auth.cpp")},
        {"docker-backend", all_reads("plugins/docker-backend/backend_config.cpp")},
        {"loop-disk", all_reads("plugins/docker-backend/storage/storage_config.cpp")},
        {"kubernetes-backend", all_reads("plugins/kubernetes-backend/backend_settings.cpp")},
    };
    const std::string auth = read_source("plugins/auth-token/src/token_auth.cpp");
    static const std::regex pair(R"re(TokenSource \w+\(settings, ctx\.config_dir, "(\w+)", "(\w+)")re");
    for (std::sregex_iterator it(auth.begin(), auth.end(), pair), end; it != end; ++it) {
        keys["auth-token"].insert((*it)[1]);
        keys["auth-token"].insert((*it)[2]);
    }
    keys["auth-token"].insert("tenants");  // a table, read whole by load_tenants
    // Read whole from the table: a table of labels, an array of tables.
    keys["kubernetes-backend"].insert({"node_selector", "tolerations"});
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
