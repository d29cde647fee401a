#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "code_interpreter/plugin/abi.hpp"
#include "config.hpp"
#include "plugin_loader.hpp"

namespace ci {
namespace {

std::string load_error(const std::string& toml) {
    try {
        load_plugins(parse_config(toml, std::filesystem::temp_directory_path().string()));
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

TEST(PluginLoader, MissingFileSaysWhichPluginAndWhy) {
    EXPECT_EQ(load_error("[plugins.auth]\npath = \"/nonexistent/libx.so\"\n"),
              "plugin 'auth' (/nonexistent/libx.so): file not found");
}

TEST(PluginLoader, NotAPluginIsRefused) {
    std::string err = load_error("[plugins.libc]\npath = \"/lib/x86_64-linux-gnu/libz.so.1\"\n");
    EXPECT_NE(err.find("missing symbol 'ci_plugin_info': not a code-interpreter plugin"), std::string::npos) << err;
}

TEST(PluginLoader, WrongAbiVersionIsRefused) {
    std::string err = load_error("[plugins.bad]\npath = \"" CI_BUILD_DIR "/test-plugins/libci_test_bad_abi.so\"\n");
    EXPECT_NE(err.find("plugin 'bad'"), std::string::npos) << err;
    const std::string expected = "ABI version " + std::to_string(plugin::kAbiVersion + 100) +
                                 " does not match the gateway's " + std::to_string(plugin::kAbiVersion);
    EXPECT_NE(err.find(expected), std::string::npos) << err;
}

TEST(PluginLoader, MissingFactoryIsRefused) {
    std::string err = load_error("[plugins.nf]\npath = \"" CI_BUILD_DIR "/test-plugins/libci_test_no_factory.so\"\n");
    EXPECT_NE(err.find("missing factory symbol 'ci_create_auth_provider'"), std::string::npos) << err;
}

TEST(PluginLoader, InvalidPluginConfigIsRefusedWithThePluginsReason) {
    std::string err = load_error("[plugins.auth-token]\npath = \"" CI_BUILD_DIR
                                 "/plugins/libci_auth_token.so\"\nbogus = 1\n");
    EXPECT_NE(err.find("plugin 'auth-token'"), std::string::npos) << err;
    EXPECT_NE(err.find("failed to start: plugins.auth-token.bogus: unknown setting"), std::string::npos) << err;
}

TEST(PluginLoader, AnIsolationPluginIsRequired) {
    std::string err = load_error("[plugins.auth-token]\npath = \"" CI_BUILD_DIR
                                 "/plugins/libci_auth_token.so\"\ntoken = \"user-token-0123456789\"\n"
                                 "admin_token = \"admin-token-0123456789\"\n");
    EXPECT_EQ(err, "no isolation plugin configured: add a [plugins.<name>] table for one");
}

}  // namespace
}  // namespace ci
