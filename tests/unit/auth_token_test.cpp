#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "token_auth.hpp"

namespace ci::auth {
namespace {

namespace fs = std::filesystem;

class TokenAuthTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ci-auth-test-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    plugin::PluginContext context(nlohmann::json config) {
        plugin::PluginContext ctx;
        ctx.name = "auth-token";
        ctx.config_dir = dir_.string();
        ctx.config = std::move(config);
        return ctx;
    }

    static plugin::AuthDecision check(const TokenAuth& auth, const std::string& header, const std::string& value) {
        plugin::AuthRequest request;
        request.path = "/execute";
        request.headers = {{"content-type", "application/json"}, {header, value}};
        return auth.authenticate(request);
    }

    static std::string read(const fs::path& p) {
        std::ifstream in(p);
        std::string token;
        in >> token;
        return token;
    }

    fs::path dir_;
};

TEST_F(TokenAuthTest, GeneratesTokensOnFirstStartWithMode0600AndReusesThem) {
    auto first = load_token_auth_config(context(nlohmann::json::object()));
    fs::path user_file = dir_ / "var/auth_token.txt";
    fs::path admin_file = dir_ / "var/admin_token.txt";
    ASSERT_TRUE(fs::exists(user_file));
    ASSERT_TRUE(fs::exists(admin_file));
    struct stat st {};
    ASSERT_EQ(::stat(user_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(first.user_token.size(), 64u);  // 256 bits as hex
    EXPECT_EQ(first.user_token, read(user_file));
    EXPECT_NE(first.user_token, first.admin_token);

    auto second = load_token_auth_config(context(nlohmann::json::object()));
    EXPECT_EQ(second.user_token, first.user_token);
    EXPECT_EQ(second.admin_token, first.admin_token);
}

TEST_F(TokenAuthTest, AcceptsTheRightTokenWithItsRoleAndRefusesOthers) {
    TokenAuth auth(load_token_auth_config(
        context({{"token", "user-token-0123456789"}, {"admin_token", "admin-token-0123456789"}})));
    auto user = check(auth, "x-auth-token", "user-token-0123456789");
    EXPECT_TRUE(user.allowed);
    EXPECT_EQ(user.role, plugin::Role::user);
    auto admin = check(auth, "x-auth-token", "admin-token-0123456789");
    EXPECT_TRUE(admin.allowed);
    EXPECT_EQ(admin.role, plugin::Role::admin);

    auto wrong = check(auth, "x-auth-token", "user-token-012345678");
    EXPECT_FALSE(wrong.allowed);
    EXPECT_EQ(wrong.reason, "invalid token");
    EXPECT_EQ(wrong.reason.find("user-token"), std::string::npos);
    // An Authorization header without the Bearer scheme presents no token.
    auto missing = check(auth, "authorization", "user-token-0123456789");
    EXPECT_FALSE(missing.allowed);
    EXPECT_EQ(missing.reason, "missing x-auth-token header (or Authorization: Bearer)");
}

// What MCP clients send (RFC 6750); the scheme in any case, the same tokens and roles.
TEST_F(TokenAuthTest, AcceptsTheTokenAsABearerCredential) {
    TokenAuth auth(load_token_auth_config(
        context({{"token", "user-token-0123456789"}, {"admin_token", "admin-token-0123456789"}})));
    auto user = check(auth, "authorization", "Bearer user-token-0123456789");
    EXPECT_TRUE(user.allowed);
    EXPECT_EQ(user.role, plugin::Role::user);
    auto admin = check(auth, "authorization", "bearer admin-token-0123456789");
    EXPECT_TRUE(admin.allowed);
    EXPECT_EQ(admin.role, plugin::Role::admin);
    EXPECT_FALSE(check(auth, "authorization", "Bearer user-token-01234567").allowed);
    EXPECT_FALSE(check(auth, "authorization", "Basic user-token-0123456789").allowed);
    EXPECT_FALSE(check(auth, "authorization", "Bearer").allowed);
}

TEST_F(TokenAuthTest, HeaderNameIsConfigurable) {
    TokenAuth auth(load_token_auth_config(context(
        {{"header", "X-Api-Key"}, {"token", "user-token-0123456789"}, {"admin_token", "admin-token-0123456789"}})));
    EXPECT_TRUE(check(auth, "x-api-key", "user-token-0123456789").allowed);
    EXPECT_FALSE(check(auth, "x-auth-token", "user-token-0123456789").allowed);
}

TEST_F(TokenAuthTest, RejectsBadConfiguration) {
    EXPECT_THROW(load_token_auth_config(context({{"tokn", "x"}})), std::invalid_argument);
    EXPECT_THROW(load_token_auth_config(context({{"token", "short"}})), std::invalid_argument);
    EXPECT_THROW(load_token_auth_config(context({{"token", 5}})), std::invalid_argument);
    EXPECT_THROW(load_token_auth_config(context({{"token", "same-token-0123456789"}, {"admin_token", "same-token-0123456789"}})),
                 std::invalid_argument);
}

TEST_F(TokenAuthTest, RefusesATokenFileOthersCanRead) {
    fs::path file = dir_ / "open.txt";
    std::ofstream(file) << "0123456789abcdef0123456789abcdef\n";
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
    try {
        load_token_auth_config(context({{"token_file", "open.txt"}}));
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("readable by others"), std::string::npos) << e.what();
    }
}

TEST_F(TokenAuthTest, TenantTokensFromTheTableAndTheFileNameTheirTenant) {
    fs::path file = dir_ / "tenants.txt";
    std::ofstream(file) << "# tenant applications\n\ngamma  gamma-token-0123456789abcdef\n";
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    TokenAuth auth(load_token_auth_config(context({{"token", "user-token-0123456789"},
                                                   {"admin_token", "admin-token-0123456789"},
                                                   {"tenants", {{"beta", "beta-token-0123456789"}}},
                                                   {"tenants_file", "tenants.txt"}})));
    auto beta = check(auth, "x-auth-token", "beta-token-0123456789");
    EXPECT_TRUE(beta.allowed);
    EXPECT_EQ(beta.role, plugin::Role::user);
    EXPECT_EQ(beta.tenant, "beta");
    EXPECT_EQ(beta.principal, "tenant:beta");
    EXPECT_EQ(check(auth, "x-auth-token", "gamma-token-0123456789abcdef").tenant, "gamma");
    // The single-token setup: the user and the admin token share the default tenant.
    EXPECT_EQ(check(auth, "x-auth-token", "user-token-0123456789").tenant, "");
    EXPECT_EQ(check(auth, "x-auth-token", "admin-token-0123456789").tenant, "");
}

TEST_F(TokenAuthTest, RefusesBadTenants) {
    auto refused = [&](nlohmann::json tenants) {
        nlohmann::json config = {{"token", "user-token-0123456789"}, {"admin_token", "admin-token-0123456789"},
                                 {"tenants", std::move(tenants)}};
        try {
            load_token_auth_config(context(config));
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()).find("-token-0123"), std::string::npos) << "no token in " << e.what();
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_NE(refused({{"bad name", "beta-token-0123456789"}}).find("tenant name 'bad name'"), std::string::npos);
    EXPECT_NE(refused({{"default", "beta-token-0123456789"}}).find("not 'default'"), std::string::npos);
    EXPECT_NE(refused({{"beta", "short"}}).find("16 to 4096"), std::string::npos);
    EXPECT_NE(refused({{"beta", 5}}).find("plugins.auth-token.tenants.beta"), std::string::npos);
    EXPECT_NE(refused({{"a", "same-token-0123456789"}, {"b", "same-token-0123456789"}}).find("the same token"),
              std::string::npos);
    EXPECT_NE(refused({{"beta", "user-token-0123456789"}}).find("must differ"), std::string::npos);
    EXPECT_NE(refused("beta").find("expected a table"), std::string::npos);
}

TEST_F(TokenAuthTest, RefusesATenantsFileOthersCanReadOrWithAMalformedLine) {
    fs::path file = dir_ / "tenants.txt";
    std::ofstream(file) << "beta-without-a-token\n";
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    auto error_of = [&] {
        try {
            load_token_auth_config(context({{"token", "user-token-0123456789"},
                                            {"admin_token", "admin-token-0123456789"},
                                            {"tenants_file", "tenants.txt"}}));
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_NE(error_of().find("line 1: expected '<tenant name> <token>'"), std::string::npos) << error_of();
    std::ofstream(file) << "beta beta-token-0123456789\n";
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    EXPECT_NE(error_of().find("readable by others"), std::string::npos) << error_of();
}

}  // namespace
}  // namespace ci::auth
