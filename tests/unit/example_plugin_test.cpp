// The example auth plugin (examples/plugins/auth-allowlist) loaded through the gateway's real plugin
// loader, as ci-gateway loads it, and asked for decisions the way the HTTP layer asks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "config.hpp"
#include "plugin_loader.hpp"

namespace ci {
namespace {

namespace fs = std::filesystem;

const std::string kUserA = "user-token-aaaaaaaaaaaaaaaa";
const std::string kUserB = "user-token-bbbbbbbbbbbbbbbb";
const std::string kAdmin = "admin-token-cccccccccccccccc";

class ExamplePluginTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ci-allowlist-test-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A configuration holding the stub isolation plugin (the loader needs one) and the example.
    GatewayConfig config_with(const std::string& allowlist_keys) const {
        const std::string toml =
            "[plugins.stub]\npath = \"" CI_BUILD_DIR "/test-plugins/libci_test_stub_isolation.so\"\n"
            "[plugins.allowlist]\npath = \"" CI_BUILD_DIR "/plugins/libci_auth_allowlist.so\"\n" +
            allowlist_keys;
        return parse_config(toml, dir_.string());
    }

    LoadedPlugins load(const std::string& allowlist_keys) const { return load_plugins(config_with(allowlist_keys)); }

    std::string load_error(const std::string& allowlist_keys) const {
        try {
            load(allowlist_keys);
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return "";
    }

    void write_file(const std::string& name, const std::string& text, mode_t mode) const {
        const fs::path path = dir_ / name;
        std::ofstream(path) << text;
        ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    }

    static plugin::AuthDecision ask(const plugin::AuthProvider& auth,
                                    std::vector<std::pair<std::string, std::string>> headers) {
        plugin::AuthRequest request;
        request.path = "/execute";
        request.headers = {{"content-type", "application/json"}, {"host", "127.0.0.1"}};
        request.headers.insert(request.headers.end(), headers.begin(), headers.end());
        return auth.authenticate(request);
    }

    static plugin::AuthDecision bearer(const plugin::AuthProvider& auth, const std::string& token) {
        return ask(auth, {{"authorization", "Bearer " + token}});
    }

    fs::path dir_;
};

const std::string kThreeTokens = "tokens = [\"" + kUserA + "\", \"" + kUserB + "\"]\nadmin_tokens = [\"" + kAdmin + "\"]\n";

TEST_F(ExamplePluginTest, LoadsThroughTheGatewaysLoaderAsTheAuthPlugin) {
    LoadedPlugins plugins = load(kThreeTokens);
    ASSERT_NE(plugins.auth, nullptr);
    ASSERT_NE(plugins.isolation, nullptr);
    EXPECT_EQ(plugins.storage, nullptr);
    EXPECT_EQ(plugins.libraries.size(), 2u);
}

TEST_F(ExamplePluginTest, AcceptsEveryConfiguredUserTokenWithTheUserRole) {
    LoadedPlugins plugins = load(kThreeTokens);
    auto a = bearer(*plugins.auth, kUserA);
    EXPECT_TRUE(a.allowed) << a.reason;
    EXPECT_EQ(a.role, plugin::Role::user);
    EXPECT_EQ(a.principal, "user-token-1");
    auto b = bearer(*plugins.auth, kUserB);
    EXPECT_TRUE(b.allowed) << b.reason;
    EXPECT_EQ(b.role, plugin::Role::user);
    EXPECT_EQ(b.principal, "user-token-2");
}

TEST_F(ExamplePluginTest, AcceptsAnAdminTokenWithTheAdminRole) {
    LoadedPlugins plugins = load(kThreeTokens);
    auto d = bearer(*plugins.auth, kAdmin);
    EXPECT_TRUE(d.allowed) << d.reason;
    EXPECT_EQ(d.role, plugin::Role::admin);
    EXPECT_EQ(d.principal, "admin-token-1");
}

TEST_F(ExamplePluginTest, TheSchemeIsCaseInsensitiveAndExtraSpacesAreTolerated) {
    LoadedPlugins plugins = load(kThreeTokens);
    EXPECT_TRUE(ask(*plugins.auth, {{"authorization", "bearer " + kUserA}}).allowed);
    EXPECT_TRUE(ask(*plugins.auth, {{"authorization", "BEARER   " + kUserA + " "}}).allowed);
}

TEST_F(ExamplePluginTest, RefusesUnknownTokensWithoutEchoingThem) {
    LoadedPlugins plugins = load(kThreeTokens);
    const std::string wrong = "user-token-zzzzzzzzzzzzzzzz";
    auto d = bearer(*plugins.auth, wrong);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, "unknown bearer token");
    EXPECT_EQ(d.reason.find(wrong), std::string::npos);
    EXPECT_TRUE(d.principal.empty());
}

TEST_F(ExamplePluginTest, APrefixOrAnExtensionOfAValidTokenIsRefused) {
    LoadedPlugins plugins = load(kThreeTokens);
    EXPECT_FALSE(bearer(*plugins.auth, kUserA.substr(0, kUserA.size() - 1)).allowed);
    EXPECT_FALSE(bearer(*plugins.auth, kUserA + "a").allowed);
    EXPECT_FALSE(bearer(*plugins.auth, kUserA.substr(0, 1)).allowed);
}

TEST_F(ExamplePluginTest, SaysWhyWhenTheHeaderIsMissingOrMalformed) {
    LoadedPlugins plugins = load(kThreeTokens);
    const auto& auth = *plugins.auth;
    EXPECT_EQ(ask(auth, {}).reason, "missing Authorization header (expected 'Authorization: Bearer <token>')");
    // The auth-token plugin's header is not this plugin's.
    EXPECT_FALSE(ask(auth, {{"x-auth-token", kUserA}}).allowed);
    EXPECT_EQ(ask(auth, {{"authorization", "Basic dXNlcjpwYXNz"}}).reason,
              "the Authorization header does not use the Bearer scheme");
    EXPECT_EQ(ask(auth, {{"authorization", kUserA}}).reason, "the Authorization header does not use the Bearer scheme");
    EXPECT_EQ(ask(auth, {{"authorization", "Bearer"}}).reason, "the bearer token is empty");
    EXPECT_EQ(ask(auth, {{"authorization", "Bearer   "}}).reason, "the bearer token is empty");
    EXPECT_EQ(ask(auth, {{"authorization", "Bearer " + kUserA}, {"authorization", "Bearer " + kUserB}}).reason,
              "more than one Authorization header");
    EXPECT_FALSE(ask(auth, {{"authorization", "Bearer " + kUserA}, {"authorization", "Bearer " + kUserA}}).allowed);
}

TEST_F(ExamplePluginTest, ReadsTokenFilesRelativeToTheConfigDirectory) {
    write_file("users.txt", "# user tokens\n\n" + kUserA + "\n  " + kUserB + "  \n", 0600);
    write_file("admins.txt", kAdmin + "\n", 0600);
    LoadedPlugins plugins = load("tokens_file = \"users.txt\"\nadmin_tokens_file = \"admins.txt\"\n");
    EXPECT_TRUE(bearer(*plugins.auth, kUserA).allowed);
    EXPECT_TRUE(bearer(*plugins.auth, kUserB).allowed);
    EXPECT_EQ(bearer(*plugins.auth, kAdmin).role, plugin::Role::admin);
    EXPECT_FALSE(bearer(*plugins.auth, "# user tokens").allowed);
}

TEST_F(ExamplePluginTest, InlineTokensAndATokenFileAddUp) {
    write_file("more.txt", kUserB + "\n", 0600);
    LoadedPlugins plugins = load("tokens = [\"" + kUserA + "\"]\ntokens_file = \"more.txt\"\n");
    EXPECT_TRUE(bearer(*plugins.auth, kUserA).allowed);
    EXPECT_TRUE(bearer(*plugins.auth, kUserB).allowed);
    EXPECT_EQ(bearer(*plugins.auth, kUserB).principal, "user-token-2");
}

TEST_F(ExamplePluginTest, WithoutAdminTokensNoRequestGetsTheAdminRole) {
    LoadedPlugins plugins = load("tokens = [\"" + kUserA + "\"]\n");
    EXPECT_EQ(bearer(*plugins.auth, kUserA).role, plugin::Role::user);
    EXPECT_FALSE(bearer(*plugins.auth, kAdmin).allowed);
}

TEST_F(ExamplePluginTest, TheLoaderRefusesAnInvalidTableNamingThePluginAndTheKey) {
    const std::string prefix = "plugin 'allowlist' (" CI_BUILD_DIR "/plugins/libci_auth_allowlist.so): failed to start: ";
    EXPECT_EQ(load_error("tokens = [\"" + kUserA + "\"]\ntoken = \"x\"\n"),
              prefix + "plugins.allowlist.token: unknown setting");
    EXPECT_EQ(load_error(""), prefix + "plugins.allowlist.tokens: no user token configured (set tokens or tokens_file)");
    EXPECT_EQ(load_error("tokens = \"" + kUserA + "\"\n"),
              prefix + "plugins.allowlist.tokens: expected an array of strings, got a string");
    EXPECT_EQ(load_error("tokens = [\"" + kUserA + "\", 7]\n"),
              prefix + "plugins.allowlist.tokens[1]: expected a string, got an integer");
    EXPECT_EQ(load_error("tokens = [\"" + kUserA + "\"]\nadmin_tokens = [\"" + kUserA + "\"]\n"),
              prefix + "plugins.allowlist.admin_tokens: a token is also a user token; the lists must not overlap");
}

TEST_F(ExamplePluginTest, BadTokensAreRefusedWithoutShowingThem) {
    const std::string short_token = "short-secret";
    std::string err = load_error("tokens = [\"" + short_token + "\"]\n");
    EXPECT_NE(err.find("tokens[0]: must be 16 to 4096 characters long, has 12"), std::string::npos) << err;
    EXPECT_EQ(err.find(short_token), std::string::npos) << err;

    const std::string spaced = "has a space in it, sixteen+";
    err = load_error("tokens = [\"" + spaced + "\"]\n");
    EXPECT_NE(err.find("tokens[0]: may hold only A-Z a-z 0-9 - . _ ~ + / (and trailing '=')"), std::string::npos) << err;
    EXPECT_EQ(err.find(spaced), std::string::npos) << err;
}

TEST_F(ExamplePluginTest, TokenFilesMustBePrivateAndPresent) {
    write_file("open.txt", kUserA + "\n", 0644);
    std::string err = load_error("tokens_file = \"open.txt\"\n");
    EXPECT_NE(err.find("tokens_file: '" + (dir_ / "open.txt").string() +
                       "' is accessible by group or others: chmod 600 it"),
              std::string::npos)
        << err;
    err = load_error("tokens_file = \"absent.txt\"\n");
    EXPECT_NE(err.find("tokens_file: cannot read '" + (dir_ / "absent.txt").string() + "'"), std::string::npos) << err;
    write_file("bad.txt", kUserA + "\nshort\n", 0600);
    err = load_error("tokens_file = \"bad.txt\"\n");
    EXPECT_NE(err.find("bad.txt' line 2: must be 16 to 4096 characters long"), std::string::npos) << err;
}

TEST_F(ExamplePluginTest, PluginSettingFlagsReachThePlugin) {
    GatewayConfig config = config_with("tokens = [\"" + kUserA + "\"]\n");
    const char* argv[] = {"ci-gateway", "--plugin-setting", "allowlist.tokens_file=\"users.txt\""};
    write_file("users.txt", kUserB + "\n", 0600);
    apply_overrides(config, parse_command_line(3, argv));
    LoadedPlugins plugins = load_plugins(config);
    EXPECT_TRUE(bearer(*plugins.auth, kUserA).allowed);
    EXPECT_TRUE(bearer(*plugins.auth, kUserB).allowed);
}

}  // namespace
}  // namespace ci
