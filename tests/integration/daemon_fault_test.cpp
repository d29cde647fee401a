// Faults outside the workers: the Docker daemon unreachable, the worker image missing, the host's
// disk full. Each is answered at once with 503 backend_unavailable, shown in /status, retried
// with back-off, and recovered from without a restart; nothing is left behind.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "api_helpers.hpp"
#include "shell.hpp"
#include "socket_proxy.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string condition_of(const std::string& url) {
    auto status = status_of(url);
    return status.is_object() ? status["condition"].value("state", "") : "";
}

// A new user's first call while the fault lasts: refused at once, with the reason.
void expect_refused_at_once(const std::string& url, const std::string& user, const std::string& detail_part) {
    auto started = Clock::now();
    auto r = execute_as(url, user, "1");
    auto took = ms_since(started);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(reason_of(r), "backend_unavailable") << r.body;
    EXPECT_NE(r.body.find(detail_part), std::string::npos) << r.body;
    EXPECT_LT(took, 3000) << r.body;
    std::printf("[ faults   ] refused in %lld ms: %s\n", took, r.body.c_str());
}

// After the fault ends, the user's call succeeds again within limit; returns how long it took.
long long recovery_ms(const std::string& url, const std::string& user, Clock::duration limit) {
    auto started = Clock::now();
    bool ok = wait_until([&] { return execute_as(url, user, "print('back')", 60).status == 200; }, limit, 250ms);
    EXPECT_TRUE(ok) << status_of(url).dump();
    return ms_since(started);
}

TEST(DaemonFaultTest, UnreachableDaemonIsReportedAndThePoolIsRebuilt) {
    const std::string proxy_path = "/tmp/ci-" + instance_name("daemon") + "-docker.sock";
    SocketProxy proxy(proxy_path, "/var/run/docker.sock");
    TestGateway gateway("daemon", {.min_idle = 1, .max_total = 4, .backend_toml = "socket = \"" + proxy_path + "\"\n"});
    const std::string url = gateway.url("");
    const std::string kept = user_of(0x301), idle_user = user_of(0x302), refused = user_of(0x303);
    ASSERT_EQ(execute_as(url, kept, "a = 1").status, 200);
    ASSERT_TRUE(wait_until([&] { return status_of(url)["idle_workers"] == 1; }, 60s));

    proxy.stop();
    // Running sessions do not need the daemon; neither does handing out an idle worker.
    auto r = execute_as(url, kept, "a + 1");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(execute_as(url, idle_user, "b = 2").status, 200);
    ASSERT_TRUE(wait_until([&] { return condition_of(url) == "backend_unavailable"; }, 10s)) << status_of(url).dump();
    expect_refused_at_once(url, refused, "");
    // Releasing needs the daemon: the removal is retried until it is back.
    EXPECT_EQ(http_request("POST", url + "/release", nlohmann::json{{"user_uuid", idle_user}}.dump(), kUserToken).status, 200);

    proxy.start();
    long long took = recovery_ms(url, refused, 30s);
    std::printf("[ faults   ] daemon back: a new session ran after %lld ms\n", took);
    EXPECT_EQ(condition_of(url), "ok");
    EXPECT_EQ(execute_as(url, kept, "a + 2").status, 200);
    EXPECT_TRUE(wait_until([&] { return status_of(url)["destroying_workers"] == 0; }, 20s)) << status_of(url).dump();

    gateway.stop();
    EXPECT_EQ(count_containers(gateway.instance()), 0);
    EXPECT_EQ(volume_leftovers(gateway.instance()), "");
}

TEST(DaemonFaultTest, MissingImageIsReportedUntilItIsBack) {
    const std::string image = "ci-test-" + instance_name("image") + ":latest";
    command_output("docker tag code-interpreter-worker:latest " + image);
    TestGateway gateway("image", {.min_idle = 0, .max_total = 2, .backend_toml = "image = \"" + image + "\"\n"});
    const std::string url = gateway.url("");
    command_output("docker rmi " + image + " >/dev/null");

    const std::string user = user_of(0x311);
    auto r = execute_as(url, user, "1");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(reason_of(r), "backend_unavailable") << r.body;
    EXPECT_EQ(condition_of(url), "image_missing") << status_of(url).dump();
    expect_refused_at_once(url, user_of(0x312), image);

    command_output("docker tag code-interpreter-worker:latest " + image);
    long long took = recovery_ms(url, user, 60s);
    std::printf("[ faults   ] image back: a new session ran after %lld ms\n", took);
    EXPECT_EQ(condition_of(url), "ok");
    gateway.stop();
    run_command("docker rmi " + image + " >/dev/null 2>&1");
    EXPECT_EQ(count_containers(gateway.instance()), 0);
}

TEST(DaemonFaultTest, FullHostDiskIsReportedUntilThereIsRoom) {
    const std::string dir = "/tmp/ci-" + instance_name("disk") + "-images";
    std::filesystem::create_directories(dir);
    command_output("mount -t tmpfs -o size=256M,mode=0700 ci-test-disk " + dir);
    command_output("fallocate -l 200M " + dir + "/filler");
    {
        TestGateway gateway("disk", {.min_idle = 0, .max_total = 2, .worker_toml = "disk_mb = 64\n",
                                     .loop_disk_toml = "image_dir = \"" + dir + "\"\nmin_free_mb = 64\n"});
        const std::string url = gateway.url("");
        const std::string user = user_of(0x321);
        auto r = execute_as(url, user, "1");
        EXPECT_EQ(r.status, 503) << r.body;
        EXPECT_EQ(reason_of(r), "backend_unavailable") << r.body;
        EXPECT_EQ(condition_of(url), "host_exhausted") << status_of(url).dump();
        expect_refused_at_once(url, user_of(0x322), "");

        std::filesystem::remove(dir + "/filler");
        long long took = recovery_ms(url, user, 60s);
        std::printf("[ faults   ] disk space back: a new session ran after %lld ms\n", took);
        gateway.stop();
        EXPECT_EQ(count_containers(gateway.instance()), 0);
        EXPECT_EQ(volume_leftovers(gateway.instance()), "");
    }
    command_output("umount " + dir);
    std::filesystem::remove(dir);
}

}  // namespace
}  // namespace ci::test
