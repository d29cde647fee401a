// Unit tests of the docker-backend plugin's configuration parsing (no Docker needed).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "backend_config.hpp"

namespace {

using ci::docker::BackendConfig;
using ci::docker::parse_backend_config;
using nlohmann::json;
using ::testing::HasSubstr;

// The message of the std::invalid_argument that parsing `config` throws ("" when it does not).
std::string parse_error(const json& config, const std::string& config_dir = "/etc/ci") {
    try {
        parse_backend_config(config, config_dir);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

TEST(DockerBackendConfig, DefaultsForMissingOrEmptyTable) {
    for (const json& table : {json(nullptr), json::object()}) {
        const BackendConfig c = parse_backend_config(table, "/etc/ci");
        EXPECT_EQ(c.socket, "/var/run/docker.sock");
        EXPECT_EQ(c.image, "code-interpreter-worker:latest");
        EXPECT_EQ(c.instance, "default");
        EXPECT_EQ(c.run_dir, "/run/code-interpreter");
        EXPECT_EQ(c.agent_uid, 2100000990u);  // the image's users, in a range no host account has
        EXPECT_EQ(c.agent_gid, 2100000990u);
        EXPECT_EQ(c.kernel_uid, 2100001000u);
        EXPECT_EQ(c.kernel_gid, 2100001000u);
        EXPECT_EQ(c.container_name_prefix, "ci-worker");
        EXPECT_EQ(c.nofile_limit, 1024u);
        EXPECT_EQ(c.disk_read_mb_per_s, 200u);
        EXPECT_EQ(c.disk_write_mb_per_s, 100u);
        EXPECT_EQ(c.disk_read_iops, 2000u);
        EXPECT_EQ(c.disk_write_iops, 1000u);
    }
}

TEST(DockerBackendConfig, ReadsEveryKey) {
    const json table = {
        {"socket", "/tmp/docker.sock"},  {"image", "registry.local:5000/ci/worker:1.2"},
        {"instance", "test-7"},          {"run_dir", "/var/run/ci/"},
        {"agent_uid", 2000},             {"agent_gid", 2001},
        {"kernel_uid", 3000},            {"kernel_gid", 3001},
        {"container_name_prefix", "cw"}, {"nofile_limit", 4096},
        {"disk_read_mb_per_s", 50},      {"disk_write_mb_per_s", 0},
        {"disk_read_iops", 300},         {"disk_write_iops", 400},
    };
    const BackendConfig c = parse_backend_config(table, "/etc/ci");
    EXPECT_EQ(c.socket, "/tmp/docker.sock");
    EXPECT_EQ(c.image, "registry.local:5000/ci/worker:1.2");
    EXPECT_EQ(c.instance, "test-7");
    EXPECT_EQ(c.run_dir, "/var/run/ci");  // trailing slash dropped
    EXPECT_EQ(c.agent_uid, 2000u);
    EXPECT_EQ(c.agent_gid, 2001u);
    EXPECT_EQ(c.kernel_uid, 3000u);
    EXPECT_EQ(c.kernel_gid, 3001u);
    EXPECT_EQ(c.container_name_prefix, "cw");
    EXPECT_EQ(c.nofile_limit, 4096u);
    EXPECT_EQ(c.disk_read_mb_per_s, 50u);
    EXPECT_EQ(c.disk_write_mb_per_s, 0u);  // 0: no limit
    EXPECT_EQ(c.disk_read_iops, 300u);
    EXPECT_EQ(c.disk_write_iops, 400u);
}

TEST(DockerBackendConfig, RelativePathsResolveAgainstConfigDir) {
    const BackendConfig c = parse_backend_config({{"run_dir", "run"}, {"socket", "d/docker.sock"}}, "/etc/ci");
    EXPECT_EQ(c.run_dir, "/etc/ci/run");
    EXPECT_EQ(c.socket, "/etc/ci/d/docker.sock");
}

TEST(DockerBackendConfig, UnknownKeyIsAnErrorNamingIt) {
    EXPECT_THAT(parse_error({{"imagee", "x"}}), HasSubstr("plugins.docker-backend.imagee: unknown setting"));
}

TEST(DockerBackendConfig, TableMustBeATable) {
    EXPECT_THAT(parse_error(json::array()), HasSubstr("plugins.docker-backend: expected a table"));
}

TEST(DockerBackendConfig, WrongTypesNameTheKey) {
    EXPECT_THAT(parse_error({{"socket", 5}}), HasSubstr("plugins.docker-backend.socket: expected a string"));
    EXPECT_THAT(parse_error({{"image", true}}), HasSubstr(".image: expected a string"));
    EXPECT_THAT(parse_error({{"agent_uid", "990"}}), HasSubstr(".agent_uid: expected an integer"));
    EXPECT_THAT(parse_error({{"nofile_limit", 1024.0}}), HasSubstr(".nofile_limit: expected an integer"));
    EXPECT_THAT(parse_error({{"image", ""}}), HasSubstr(".image: must not be empty"));
}

TEST(DockerBackendConfig, RangesAreChecked) {
    EXPECT_THAT(parse_error({{"agent_uid", -1}}), HasSubstr(".agent_uid: must be between 1 and"));
    EXPECT_THAT(parse_error({{"kernel_gid", 0}}), HasSubstr(".kernel_gid: must be between 1 and"));
    EXPECT_THAT(parse_error({{"kernel_uid", 4294967296LL}}), HasSubstr(".kernel_uid: must be between"));
    EXPECT_THAT(parse_error({{"nofile_limit", 10}}), HasSubstr(".nofile_limit: must be between 64 and 1048576"));
    EXPECT_THAT(parse_error({{"agent_uid", 2100001000}}), HasSubstr(".kernel_uid: must differ from agent_uid"));
    EXPECT_THAT(parse_error({{"disk_read_mb_per_s", 1048577}}), HasSubstr(".disk_read_mb_per_s: must be between 0 and"));
    EXPECT_THAT(parse_error({{"disk_write_iops", -1}}), HasSubstr(".disk_write_iops: must be between 0 and 16777216"));
}

TEST(DockerBackendConfig, InstanceMustBeShortLowercase) {
    EXPECT_EQ(parse_error({{"instance", "a-1-b"}}), "");
    EXPECT_EQ(parse_error({{"instance", std::string(24, 'a')}}), "");
    EXPECT_THAT(parse_error({{"instance", std::string(25, 'a')}}), HasSubstr(".instance:"));
    EXPECT_THAT(parse_error({{"instance", "Prod"}}), HasSubstr(".instance:"));
    EXPECT_THAT(parse_error({{"instance", "a_b"}}), HasSubstr(".instance:"));
    EXPECT_THAT(parse_error({{"instance", "a b"}}), HasSubstr(".instance:"));
}

TEST(DockerBackendConfig, NamesAreChecked) {
    EXPECT_THAT(parse_error({{"container_name_prefix", "-x"}}), HasSubstr(".container_name_prefix:"));
    EXPECT_THAT(parse_error({{"container_name_prefix", "a/b"}}), HasSubstr(".container_name_prefix:"));
    EXPECT_THAT(parse_error({{"image", "bad image"}}), HasSubstr(".image:"));
    EXPECT_THAT(parse_error({{"image", "x?y"}}), HasSubstr(".image:"));
}

TEST(DockerBackendConfig, SocketPathMustFitUnderTheLimit) {
    // <run_dir>/<instance>/<12 hex>/agent.sock: with instance "default" (7) that is run_dir + 32.
    const std::string fits = "/" + std::string(99 - 32 - 1, 'r');
    EXPECT_EQ(parse_error({{"run_dir", fits}}), "");
    const std::string too_long = fits + "r";
    const std::string message = parse_error({{"run_dir", too_long}});
    EXPECT_THAT(message, HasSubstr("plugins.docker-backend.run_dir:"));
    EXPECT_THAT(message, HasSubstr("100 bytes"));
    // A longer instance name shortens what run_dir may be.
    EXPECT_THAT(parse_error({{"run_dir", fits}, {"instance", "longer-instance"}}), HasSubstr(".run_dir:"));
    EXPECT_THAT(parse_error({{"socket", "/" + std::string(120, 's')}}), HasSubstr(".socket:"));
    EXPECT_THAT(parse_error({{"run_dir", "/"}}), HasSubstr(".run_dir:"));
}

TEST(DockerBackendConfig, MessagesUseTheGivenTableName) {
    try {
        parse_backend_config({{"bogus", 1}}, "/etc/ci", "plugins.docker-test");
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_THAT(e.what(), HasSubstr("plugins.docker-test.bogus"));
    }
}

}  // namespace
