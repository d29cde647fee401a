#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"

namespace ci {
namespace {

GatewayConfig parse(const std::string& text) { return parse_config(text, "/etc/ci"); }

std::string error_of(const std::string& text) {
    try {
        validate(parse(text));
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

CommandLine cli(std::vector<const char*> args) {
    args.insert(args.begin(), "ci-gateway");
    return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(Config, EmptyFileGivesDocumentedDefaults) {
    GatewayConfig c = parse("");
    EXPECT_EQ(c.server.host, "127.0.0.1");
    EXPECT_EQ(c.server.port, 3874);
    EXPECT_EQ(c.pool.min_idle_workers, 5);
    EXPECT_EQ(c.pool.max_total_workers, 50);
    EXPECT_DOUBLE_EQ(c.worker.cpu, 1.0);
    EXPECT_EQ(c.worker.ram_mb, 1024u);
    EXPECT_EQ(c.worker.disk_mb, 500u);
    EXPECT_EQ(c.execution.timeout, std::chrono::seconds(120));
    EXPECT_TRUE(c.plugins.empty());
    EXPECT_EQ(c.worker.preload, (std::vector<std::string>{"numpy", "pandas", "matplotlib.pyplot"}));
    EXPECT_EQ(c.pool.arrival_window, std::chrono::seconds(300));
    EXPECT_TRUE(c.pool.low_priority_refills);
}

TEST(Config, PreloadTakesModuleNamesOnly) {
    EXPECT_TRUE(parse("[worker]\npreload = []\n").worker.preload.empty());
    EXPECT_EQ(parse("[worker]\npreload = [\"scipy.stats\", \"_private\"]\n").worker.preload,
              (std::vector<std::string>{"scipy.stats", "_private"}));
    EXPECT_EQ(error_of("[worker]\npreload = [\"numpy\", \"os; import x\"]\n"),
              "worker.preload: \"os; import x\" is not a Python module name (dotted identifiers, e.g. \"matplotlib.pyplot\")");
    EXPECT_NE(error_of("[worker]\npreload = [\"a,b\"]\n"), "");
    EXPECT_NE(error_of("[worker]\npreload = [\"numpy\", \"numpy\"]\n"), "");
    EXPECT_NE(error_of("[worker]\npreload = [\"matplotlib.\"]\n"), "");
    EXPECT_THROW(parse("[worker]\npreload = \"numpy\"\n"), std::invalid_argument);
    EXPECT_EQ(parse("[pool]\narrival_window = 0\nlow_priority_refills = false\n").pool.arrival_window,
              std::chrono::milliseconds(0));
}

TEST(Config, ShippedConfigParsesAndValidates) {
    GatewayConfig c = load_config_file(CI_SOURCE_DIR "/config.toml");
    validate(c);
    ASSERT_EQ(c.plugins.size(), 3u);
    EXPECT_EQ(c.plugins[0].name, "auth-token");
    EXPECT_EQ(c.plugins[0].path, CI_SOURCE_DIR "/build/plugins/libci_auth_token.so");
    EXPECT_FALSE(c.plugins[0].settings.contains("path"));
    EXPECT_EQ(c.plugins[0].settings.at("header"), "X-Auth-Token");
}

TEST(Config, ReadsValuesAndSecondsAsDurations) {
    GatewayConfig c = parse(R"(
        [pool]
        min_idle_workers = 2
        max_total_workers = 7
        [worker]
        cpu = 0.5
        ram_mb = 256
        [execution]
        timeout = 2.5
    )");
    EXPECT_EQ(c.pool.min_idle_workers, 2);
    EXPECT_EQ(c.pool.max_total_workers, 7);
    EXPECT_DOUBLE_EQ(c.worker.cpu, 0.5);
    EXPECT_EQ(c.worker.ram_mb, 256u);
    EXPECT_EQ(c.execution.timeout, std::chrono::milliseconds(2500));
}

TEST(Config, IntegerCpuIsAccepted) { EXPECT_DOUBLE_EQ(parse("[worker]\ncpu = 2\n").worker.cpu, 2.0); }

TEST(Config, PluginPathsResolveAgainstConfigDirAndSettingsKeepTypes) {
    GatewayConfig c = parse(R"(
        [plugins.x]
        path = "lib/x.so"
        n = 3
        flag = true
        list = ["a", "b"]
    )");
    ASSERT_EQ(c.plugins.size(), 1u);
    EXPECT_EQ(c.plugins[0].path, "/etc/ci/lib/x.so");
    EXPECT_EQ(c.plugins[0].settings.at("n"), 3);
    EXPECT_EQ(c.plugins[0].settings.at("flag"), true);
    EXPECT_EQ(c.plugins[0].settings.at("list").size(), 2u);
}

TEST(Config, ErrorsNameTheKey) {
    EXPECT_EQ(error_of("[pool]\nmin_idle = 3\n"), "pool.min_idle: unknown setting");
    EXPECT_EQ(error_of("[worker]\nram_mb = \"lots\"\n"), "worker.ram_mb: expected an integer, got a string");
    EXPECT_EQ(error_of("[worker]\nram_mb = -5\n"), "worker.ram_mb: must not be negative");
    EXPECT_EQ(error_of("[server]\nport = 70000\n"), "server.port: must be between 0 and 65535, got 70000");
    EXPECT_EQ(error_of("bogus = 1\n"), "bogus: unknown setting");
    EXPECT_EQ(error_of("[plugins.x]\nkey = 1\n"), "plugins.x.path: missing: the plugin's shared library");
    EXPECT_EQ(error_of("[pool]\nmin_idle_workers = 9\nmax_total_workers = 4\n"),
              "pool.min_idle_workers: must not exceed pool.max_total_workers (4)");
    EXPECT_EQ(error_of("log_level = \"loud\"\n"), "log_level: must be debug, info, warn or error");
    EXPECT_NE(error_of("[pool\n").find("config.toml: line 1"), std::string::npos);
    EXPECT_EQ(error_of("[server]\nkeepalive_timeout = nan\n"), "server.keepalive_timeout: must be a finite number of seconds");
    EXPECT_EQ(error_of("[pool]\nacquire_timeout = 1e300\n"), "pool.acquire_timeout: is too large (at most a year)");
    EXPECT_EQ(error_of("[execution]\non_timeout = \"retry\"\n"), "execution.on_timeout: must be \"recycle\" or \"interrupt\"");
}

TEST(Config, CommandLineOverridesPoolAndWorkerSettings) {
    GatewayConfig c = parse("[pool]\nmin_idle_workers = 1\n");
    CommandLine line = cli({"--min-idle-workers", "3", "--max-total-workers=9", "--worker-cpu", "1.5",
                            "--worker-ram-mb", "512", "--worker-disk-mb", "200", "--port", "0", "--config", "/x.toml"});
    apply_overrides(c, line);
    EXPECT_EQ(line.config_path, "/x.toml");
    EXPECT_EQ(c.pool.min_idle_workers, 3);
    EXPECT_EQ(c.pool.max_total_workers, 9);
    EXPECT_DOUBLE_EQ(c.worker.cpu, 1.5);
    EXPECT_EQ(c.worker.ram_mb, 512u);
    EXPECT_EQ(c.worker.disk_mb, 200u);
    EXPECT_EQ(c.server.port, 0);
}

TEST(Config, CommandLineRejectsUnknownFlagsAndBadValues) {
    EXPECT_THROW(cli({"--min-idle"}), std::invalid_argument);
    EXPECT_THROW(cli({"--bogus", "1"}), std::invalid_argument);
    EXPECT_THROW(cli({"stray"}), std::invalid_argument);
    GatewayConfig c = parse("");
    EXPECT_THROW(apply_overrides(c, cli({"--worker-cpu", "fast"})), std::invalid_argument);
    EXPECT_THROW(apply_overrides(c, cli({"--port", "99999"})), std::invalid_argument);
    EXPECT_THROW(apply_overrides(c, cli({"--worker-ram-mb", "-5"})), std::invalid_argument);
    EXPECT_THROW(apply_overrides(c, cli({"--port", "-1"})), std::invalid_argument);
    apply_overrides(c, cli({"--min-idle-workers", "-3"}));
    EXPECT_THROW(validate(c), std::invalid_argument);
}

TEST(Config, WorkerTmpNeedsAMegabyte) {
    EXPECT_EQ(error_of("[worker]\ntmp_mb = 0\n"), "worker.tmp_mb: must be at least 1");
}

}  // namespace
}  // namespace ci

namespace ci {
namespace {

TEST(Config, PluginSettingFlagSetsTypedValuesOfANamedPlugin) {
    GatewayConfig c = parse_config("[plugins.backend]\npath = \"b.so\"\nnetwork = \"none\"\n", "/etc/ci");
    const char* args[] = {"ci-gateway", "--plugin-setting", "backend.enable_internet=true",
                          "--plugin-setting=backend.network=internal", "--plugin-setting", "backend.n=3"};
    apply_overrides(c, parse_command_line(6, args));
    EXPECT_EQ(c.plugins[0].settings.at("enable_internet"), true);
    EXPECT_EQ(c.plugins[0].settings.at("network"), "internal");
    EXPECT_EQ(c.plugins[0].settings.at("n"), 3);
}

TEST(Config, PluginSettingFlagRejectsUnknownPluginsAndBadForms) {
    GatewayConfig c = parse_config("[plugins.backend]\npath = \"b.so\"\n", "/etc/ci");
    auto apply = [&](const char* value) {
        const char* args[] = {"ci-gateway", "--plugin-setting", value};
        apply_overrides(c, parse_command_line(3, args));
    };
    EXPECT_THROW(apply("other.key=1"), std::invalid_argument);
    EXPECT_THROW(apply("backend=1"), std::invalid_argument);
    EXPECT_THROW(apply("backend.path=/tmp/evil.so"), std::invalid_argument);
}

}  // namespace
}  // namespace ci

namespace ci {
namespace {

TEST(Config, LongestRequestCoversEveryQueuedExecutionAndTheLargestUrlTransfer) {
    GatewayConfig c = parse("[pool]\nacquire_timeout = 30\ndrain_timeout = 5\n"
                            "[execution]\ntimeout = 100\ninterrupt_grace = 2\nmax_queued_per_session = 3\n"
                            "[files]\nurl_timeout = 0.5\ntimeout = 0.25\n");
    EXPECT_EQ(longest_request(c), std::chrono::seconds(30 + 4 * 102 + 5 + 60));
    // 100 files one after another, each with its transfer and its worker's answers.
    c = parse("[pool]\nacquire_timeout = 30\ndrain_timeout = 5\n[execution]\ntimeout = 10\n"
              "[files]\nurl_timeout = 20\ntimeout = 5\n");
    EXPECT_EQ(longest_request(c), std::chrono::seconds(30 + 100 * 30 + 5 + 60));
}

TEST(Config, UrlTransferAndCorsSettings) {
    GatewayConfig defaults = parse("");
    EXPECT_EQ(defaults.files.url_max_file_bytes, 100u << 20);
    EXPECT_TRUE(defaults.files.url_ssrf_protection);
    EXPECT_TRUE(defaults.files.url_allowed_private_hosts.empty());
    EXPECT_TRUE(defaults.server.cors_allowed_origins.empty());
    GatewayConfig c = parse("[server]\ncors_allowed_origins = [\"*\", \"https://app.example.com:8443\"]\n"
                            "[files]\nurl_allowed_private_hosts = [\"MinIO.local:9000\", \"[fd00::1]:9000\"]\n"
                            "url_ssrf_protection = false\nurl_transfer_threads = 8\n");
    validate(c);
    EXPECT_EQ(c.files.url_allowed_private_hosts, (std::vector<std::string>{"minio.local:9000", "[fd00::1]:9000"}));
    EXPECT_FALSE(c.files.url_ssrf_protection);
    EXPECT_EQ(c.files.url_transfer_threads, 8);
    EXPECT_EQ(c.server.cors_allowed_origins.size(), 2u);
    for (const char* bad : {"[files]\nurl_allowed_private_hosts = [\"minio.local\"]\n",
                            "[files]\nurl_allowed_private_hosts = [\"minio:99999\"]\n",
                            "[files]\nurl_allowed_private_hosts = \"minio:9000\"\n",
                            "[files]\nurl_transfer_threads = 0\n",
                            "[server]\ncors_allowed_origins = [\"https://app.example.com/path\"]\n",
                            "[server]\ncors_allowed_origins = [\"app.example.com\"]\n"}) {
        EXPECT_THROW(validate(parse(bad)), std::invalid_argument) << bad;
    }
}

TEST(Config, ExecutionSchedulingSettings) {
    GatewayConfig defaults = parse("");
    EXPECT_FALSE(defaults.execution.store_history);
    EXPECT_EQ(defaults.execution.max_running, 0);
    EXPECT_EQ(defaults.execution.running_slot_time, std::chrono::milliseconds(100));
    GatewayConfig c = parse("[execution]\nstore_history = true\nmax_running = 3\nrunning_slot_time = 0.25\n");
    EXPECT_TRUE(c.execution.store_history);
    EXPECT_EQ(c.execution.max_running, 3);
    EXPECT_EQ(c.execution.running_slot_time, std::chrono::milliseconds(250));
    EXPECT_EQ(error_of("[execution]\nmax_running = -1\n"), "execution.max_running: must not be negative");
}

TEST(Config, RestartSettingsResolveTheStateFileAndCheckTheirTypes) {
    EXPECT_EQ(parse("").pool.state_file, "/etc/ci/var/pool-state.json");
    EXPECT_FALSE(parse("").pool.keep_workers_on_stop);
    GatewayConfig c = parse("[pool]\nstate_file = \"/srv/state.json\"\nkeep_workers_on_stop = true\ndrain_timeout = 2.5\n");
    EXPECT_EQ(c.pool.state_file, "/srv/state.json");
    EXPECT_TRUE(c.pool.keep_workers_on_stop);
    EXPECT_EQ(c.pool.drain_timeout, std::chrono::milliseconds(2500));
    EXPECT_EQ(parse("[pool]\nstate_file = \"\"\n").pool.state_file, "");
    EXPECT_EQ(error_of("[pool]\nkeep_workers_on_stop = 1\n"), "pool.keep_workers_on_stop: expected true or false, got an integer");
    EXPECT_EQ(error_of("[pool]\nstate_file = \"\"\nkeep_workers_on_stop = true\n"),
              "pool.keep_workers_on_stop: needs pool.state_file: kept workers are found again through it");
}

}  // namespace
}  // namespace ci
