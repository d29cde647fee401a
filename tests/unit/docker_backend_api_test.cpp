// Unit tests of the docker-backend plugin's Engine API requests and answer parsing (no Docker).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cpu_weight.hpp"
#include "docker_api.hpp"
#include "code_interpreter/host_failure/host_failure.hpp"
#include "seccomp_profile.hpp"

namespace {

using namespace ci::docker;
using ci::plugin::FailureKind;
using ci::plugin::Status;
using ci::plugin::WorkerSpec;
using ci::plugin::WorkerState;
using nlohmann::json;
using ::testing::HasSubstr;

WorkerSpec sample_spec() {
    WorkerSpec spec;
    spec.worker_id = "0123456789ab";
    spec.limits.cpus = 1.5;
    spec.limits.memory_mb = 512;
    spec.limits.pids = 128;
    spec.limits.tmp_mb = 64;
    spec.agent_key = "secret";
    spec.workspace_mb = 300;
    return spec;
}

TEST(DockerApi, WorkerIdIsTwelveLowercaseHex) {
    EXPECT_TRUE(is_valid_worker_id("0123456789ab"));
    EXPECT_TRUE(is_valid_worker_id("ffffffffffff"));
    EXPECT_FALSE(is_valid_worker_id("0123456789AB"));
    EXPECT_FALSE(is_valid_worker_id("0123456789a"));
    EXPECT_FALSE(is_valid_worker_id("0123456789abc"));
    EXPECT_FALSE(is_valid_worker_id("0123456789ag"));
    EXPECT_FALSE(is_valid_worker_id("../../etc/xx"));
    EXPECT_FALSE(is_valid_worker_id(""));
}

TEST(DockerApi, NamesAndPaths) {
    BackendConfig c;
    EXPECT_EQ(container_name(c, "0123456789ab"), "ci-worker-default-0123456789ab");
    EXPECT_EQ(worker_dir(c, "0123456789ab"), "/run/code-interpreter/default/0123456789ab");
    EXPECT_EQ(agent_endpoint(c, "0123456789ab"), "ipc:///run/code-interpreter/default/0123456789ab/agent.sock");
    EXPECT_EQ(create_container_path(c, "0123456789ab"), "/containers/create?name=ci-worker-default-0123456789ab");
    EXPECT_EQ(remove_container_path(c, "0123456789ab"), "/containers/ci-worker-default-0123456789ab?force=true&v=true");
    EXPECT_EQ(inspect_image_path("code-interpreter-worker:latest"), "/images/code-interpreter-worker:latest/json");
    EXPECT_EQ(inspect_image_path("reg:5000/a/b:1"), "/images/reg:5000/a/b:1/json");
}

TEST(DockerApi, UrlEncoding) {
    EXPECT_EQ(url_encode("aZ09-._~"), "aZ09-._~");
    EXPECT_EQ(url_encode("{\"a\":[\"x=y\"]} /&?"), "%7B%22a%22%3A%5B%22x%3Dy%22%5D%7D%20%2F%26%3F");
}

TEST(DockerApi, ListFiltersAreUrlEncodedJson) {
    BackendConfig c;
    c.instance = "prod-1";
    const std::string path = list_containers_path(c);
    EXPECT_EQ(path,
              "/containers/json?all=true&filters="
              "%7B%22label%22%3A%5B%22code-interpreter.managed%3Dtrue%22%2C%22code-interpreter.instance%3Dprod-1%22%5D%7D");
    // Decodes back to the filter Docker expects.
    const std::string encoded = path.substr(path.find("filters=") + 8);
    std::string decoded;
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded[i] == '%') {
            decoded.push_back(static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            decoded.push_back(encoded[i]);
        }
    }
    EXPECT_EQ(json::parse(decoded),
              (json{{"label", {"code-interpreter.managed=true", "code-interpreter.instance=prod-1"}}}));
}

TEST(DockerApi, CreateRequestCarriesLimitsCapsLabelsAndMounts) {
    BackendConfig c;
    c.instance = "t1";
    const WorkerSpec spec = sample_spec();
    const json r = build_create_request(c, spec, "/run/code-interpreter/t1/0123456789ab");

    EXPECT_EQ(r["Image"], "code-interpreter-worker:latest");
    EXPECT_FALSE(r.contains("Cmd"));         // the image's entrypoint runs the agent with its defaults
    EXPECT_FALSE(r.contains("Entrypoint"));
    EXPECT_FALSE(r.contains("User"));        // starts as root; the agent drops privileges
    EXPECT_EQ(r["Labels"], (json{{"code-interpreter.managed", "true"},
                                 {"code-interpreter.instance", "t1"},
                                 {"code-interpreter.worker-id", "0123456789ab"}}));

    const json& h = r["HostConfig"];
    EXPECT_EQ(h["NanoCpus"], 1500000000LL);
    EXPECT_EQ(h["Memory"], 512LL * 1024 * 1024);
    EXPECT_EQ(h["MemorySwap"], h["Memory"]);  // no swap
    EXPECT_EQ(h["PidsLimit"], 128);
    EXPECT_EQ(h["CapDrop"], json::array({"ALL"}));
    EXPECT_EQ(h["CapAdd"], json::array({"SETUID", "SETGID", "SETPCAP"}));
    // Our seccomp profile, and no AppArmor profile named on a host without AppArmor.
    EXPECT_EQ(h["SecurityOpt"], json::array({"no-new-privileges:true", "seccomp=" + std::string(kSeccompProfile)}));
    EXPECT_EQ(h["NetworkMode"], "none");
    EXPECT_EQ(h["Init"], true);
    EXPECT_EQ(h["ReadonlyRootfs"], true);
    EXPECT_EQ(h["Privileged"], false);
    EXPECT_EQ(h["Ulimits"],
              json::parse(R"([{"Name":"nofile","Soft":1024,"Hard":1024},{"Name":"core","Soft":0,"Hard":0}])"));
    // Without a network Docker writes no /etc/hosts: the per-worker dir's makes "sandbox" resolve.
    EXPECT_EQ(h["Binds"], json::array({"/run/code-interpreter/t1/0123456789ab:/run/ci:rw",
                                       "/run/code-interpreter/t1/0123456789ab/hosts:/etc/hosts:ro"}));
    EXPECT_EQ(h["Tmpfs"], (json{{"/tmp", "rw,nosuid,nodev,size=64m,mode=1777"},
                                {"/sandbox", "rw,nosuid,nodev,size=300m,uid=2100001000,gid=2100001000,mode=0700"}}));
    EXPECT_EQ(h["RestartPolicy"]["Name"], "no");
    EXPECT_EQ(h["AutoRemove"], false);
}

TEST(DockerApi, CreateRequestHandsThePreloadListToTheAgentAndLowersRefills) {
    BackendConfig c;
    WorkerSpec spec = sample_spec();
    spec.preload_modules = {"numpy", "matplotlib.pyplot"};
    json r = build_create_request(c, spec, "/d");
    EXPECT_EQ(r["Cmd"], json::array({"--preload", "numpy,matplotlib.pyplot"}));
    EXPECT_FALSE(r["HostConfig"].contains("CpuShares"));  // Docker's default weight

    HostExtras extras;
    extras.low_cpu_weight = true;
    c.network = NetworkMode::internal;
    r = build_create_request(c, spec, "/d", extras);
    EXPECT_EQ(r["HostConfig"]["CpuShares"], kRefillCpuShares);
    const json& cmd = r["Cmd"];
    ASSERT_GE(cmd.size(), 2u);
    EXPECT_EQ(cmd[0], "--listen");
    EXPECT_EQ(cmd[cmd.size() - 2], "--preload");
    EXPECT_EQ(cmd.back(), "numpy,matplotlib.pyplot");
}

TEST(CpuWeight, FindsTheCpuControllerOfCgroupV1ElseTheUnifiedHierarchy) {
    const std::string hybrid =
        "25 24 0:22 / /sys/fs/cgroup/unified rw,nosuid shared:5 - cgroup2 cgroup2 rw\n"
        "26 24 0:23 / /sys/fs/cgroup/cpuacct rw,nosuid shared:6 - cgroup cgroup rw,cpuacct\n"
        "27 24 0:24 / /sys/fs/cgroup/cpu rw,nosuid shared:7 - cgroup cgroup rw,cpu\n";
    auto found = find_cpu_controller(hybrid);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->mount, "/sys/fs/cgroup/cpu");
    EXPECT_FALSE(found->unified);
    found = find_cpu_controller("30 1 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->mount, "/sys/fs/cgroup/cpu,cpuacct");
    found = find_cpu_controller("31 1 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->mount, "/sys/fs/cgroup");
    EXPECT_TRUE(found->unified);
    EXPECT_FALSE(find_cpu_controller("22 1 0:5 / /proc rw - proc proc rw\n"));
    EXPECT_FALSE(find_cpu_controller("27 24 0:24 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"));
}

TEST(CpuWeight, TheLeasedWorkerGetsTheDefaultWeightInEitherDriversCgroup) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ci-cpu-weight.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    const std::filesystem::path root = tmpl;
    const std::string id(64, 'a');
    std::filesystem::create_directories(root / "v1" / "docker" / id);
    std::ofstream(root / "v1" / "docker" / id / "cpu.shares") << "2\n";
    std::filesystem::create_directories(root / "v2" / "system.slice" / ("docker-" + id + ".scope"));
    std::ofstream(root / "v2" / "system.slice" / ("docker-" + id + ".scope") / "cpu.weight") << "1\n";
    const auto read = [](const std::filesystem::path& path) {
        std::ifstream in(path);
        std::string text;
        std::getline(in, text);
        return text;
    };

    ASSERT_TRUE(set_default_cpu_weight({root / "v1", false}, id).ok());
    EXPECT_EQ(read(root / "v1" / "docker" / id / "cpu.shares"), "1024");
    ASSERT_TRUE(set_default_cpu_weight({root / "v2", true}, id).ok());
    EXPECT_EQ(read(root / "v2" / "system.slice" / ("docker-" + id + ".scope") / "cpu.weight"), "100");
    const Status missing = set_default_cpu_weight({root / "v1", false}, std::string(64, 'b'));
    EXPECT_FALSE(missing.ok());
    EXPECT_THAT(missing.error(), HasSubstr("no cpu cgroup of container"));
    for (const std::string bad : {std::string("../../../../tmp"), std::string(64, 'A'), std::string(63, 'a')})
        EXPECT_FALSE(set_default_cpu_weight({root / "v1", false}, bad).ok()) << bad;
    std::filesystem::remove_all(root);
}

TEST(DockerApi, CreateRequestBindsAGivenWorkspace) {
    BackendConfig c;
    c.kernel_uid = 1234;
    c.nofile_limit = 2048;
    WorkerSpec spec = sample_spec();
    spec.workspace_host_path = "/var/lib/ci/volumes/0123456789ab";
    const json h = build_create_request(c, spec, "/run/code-interpreter/default/0123456789ab")["HostConfig"];
    EXPECT_EQ(h["Binds"], json::array({"/run/code-interpreter/default/0123456789ab:/run/ci:rw",
                                       "/var/lib/ci/volumes/0123456789ab:/sandbox:rw",
                                       "/run/code-interpreter/default/0123456789ab/hosts:/etc/hosts:ro"}));
    EXPECT_EQ(h["Tmpfs"], (json{{"/tmp", "rw,nosuid,nodev,size=64m,mode=1777"}}));
    EXPECT_EQ(h["Ulimits"][0]["Soft"], 2048);
    EXPECT_EQ(h["Ulimits"][0]["Hard"], 2048);
}

TEST(DockerApi, CreateRequestLargeMemoryDoesNotOverflow) {
    BackendConfig c;
    WorkerSpec spec = sample_spec();
    spec.limits.memory_mb = 64 * 1024;  // 64 GiB
    spec.limits.cpus = 0.25;
    const json h = build_create_request(c, spec, "/d")["HostConfig"];
    EXPECT_EQ(h["Memory"], 68719476736LL);
    EXPECT_EQ(h["MemorySwap"], 68719476736LL);
    EXPECT_EQ(h["NanoCpus"], 250000000LL);
}

TEST(DockerApi, SpecValidation) {
    EXPECT_EQ(validate_spec(sample_spec()), "");
    auto with = [](auto change) {
        WorkerSpec s = sample_spec();
        change(s);
        return validate_spec(s);
    };
    EXPECT_THAT(with([](WorkerSpec& s) { s.worker_id = "XYZ"; }), HasSubstr("worker id"));
    EXPECT_THAT(with([](WorkerSpec& s) { s.limits.cpus = 0; }), HasSubstr("cpus"));
    EXPECT_THAT(with([](WorkerSpec& s) { s.limits.memory_mb = 2; }), HasSubstr("memory_mb"));
    EXPECT_THAT(with([](WorkerSpec& s) { s.limits.pids = 0; }), HasSubstr("pids"));
    EXPECT_THAT(with([](WorkerSpec& s) { s.limits.tmp_mb = 0; }), HasSubstr("tmp_mb"));
    EXPECT_THAT(with([](WorkerSpec& s) { s.agent_key.clear(); }), HasSubstr("agent_key"));
    EXPECT_THAT(with([](WorkerSpec& s) { s.workspace_mb = 0; }), HasSubstr("workspace_mb"));
    EXPECT_THAT(with([](WorkerSpec& s) { s.workspace_host_path = "rel/dir"; }), HasSubstr("not absolute"));
    EXPECT_THAT(with([](WorkerSpec& s) { s.workspace_host_path = "/a:b"; }), HasSubstr("bind"));
    EXPECT_EQ(with([](WorkerSpec& s) { s.workspace_host_path = "/a/b"; s.workspace_mb = 0; }), "");
}

TEST(DockerApi, ErrorMessageFromBody) {
    EXPECT_EQ(docker_error_message(R"({"message":"No such image: x:latest"})"), "No such image: x:latest");
    EXPECT_EQ(docker_error_message("plain text\n"), "plain text");
    EXPECT_EQ(docker_error_message(""), "(empty response)");
    EXPECT_EQ(docker_error_message(std::string(1000, 'x')).size(), 303u);
}

TEST(DockerApi, ContainerListKeepsOnlyOurValidWorkers) {
    BackendConfig c;
    c.instance = "t1";
    const std::string body = R"([
      {"Id":"aaa","Labels":{"code-interpreter.managed":"true","code-interpreter.instance":"t1",
                            "code-interpreter.worker-id":"0123456789ab"}},
      {"Id":"bbb","Labels":{"code-interpreter.managed":"true","code-interpreter.instance":"t1",
                            "code-interpreter.worker-id":"NOT-VALID"}},
      {"Id":"ccc","Labels":{"code-interpreter.managed":"true","code-interpreter.instance":"other",
                            "code-interpreter.worker-id":"ffffffffffff"}},
      {"Id":"ddd","Labels":{}},
      {"Id":"eee","Labels":{"code-interpreter.managed":"true","code-interpreter.instance":"t1",
                            "code-interpreter.worker-id":"abcdefabcdef"}}
    ])";
    std::size_t skipped = 0;
    auto r = parse_container_list(c, body, "sha256:1", &skipped);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r.value().size(), 2u);
    EXPECT_EQ(r.value()[0].worker_id, "0123456789ab");
    EXPECT_EQ(r.value()[0].backend_id, "aaa");
    EXPECT_EQ(r.value()[0].agent_endpoint, "ipc:///run/code-interpreter/t1/0123456789ab/agent.sock");
    EXPECT_EQ(r.value()[1].worker_id, "abcdefabcdef");
    EXPECT_EQ(skipped, 3u);
    EXPECT_FALSE(parse_container_list(c, R"({"message":"boom"})").ok());
    EXPECT_TRUE(parse_container_list(c, "[]").ok());
}

// A GET /containers/json entry of instance t1 for worker 0123456789ab, with `fields` merged in.
json listed_container(const json& fields = json::object()) {
    json c = {{"Id", "c1"},
              {"Labels", {{"code-interpreter.managed", "true"}, {"code-interpreter.instance", "t1"},
                          {"code-interpreter.worker-id", "0123456789ab"}}},
              {"State", "running"},
              {"ImageID", "sha256:new"},
              {"HostConfig", {{"NetworkMode", "none"}}}};
    c.update(fields);
    return c;
}

std::string stale_of(const BackendConfig& c, const json& container, const std::string& image_id = "sha256:new") {
    auto r = parse_container_list(c, json::array({container}).dump(), image_id);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() && r.value().size() == 1 ? r.value()[0].stale : "(not listed)";
}

TEST(DockerApi, ContainerListMarksWorkersThatCannotBeAdopted) {
    BackendConfig c;
    c.instance = "t1";
    EXPECT_EQ(stale_of(c, listed_container()), "");
    EXPECT_EQ(stale_of(c, listed_container({{"State", "exited"}})), "it is exited, not running");
    EXPECT_EQ(stale_of(c, listed_container({{"State", "created"}, {"ImageID", "sha256:old"}})), "it is created, not running");
    EXPECT_THAT(stale_of(c, listed_container({{"ImageID", "sha256:old"}})),
                HasSubstr("made from another image than the current code-interpreter-worker:latest"));
    EXPECT_THAT(stale_of(c, listed_container(), ""), HasSubstr("image code-interpreter-worker:latest does not exist"));
    EXPECT_THAT(stale_of(c, listed_container({{"HostConfig", {{"NetworkMode", "ci-t1"}}}})),
                HasSubstr("its network is 'ci-t1', the configuration asks for 'none'"));

    c.network = NetworkMode::internal;
    const json on_network = {{"HostConfig", {{"NetworkMode", "ci-t1"}}},
                             {"NetworkSettings", {{"Networks", {{"ci-t1", {{"IPAddress", "10.213.0.9"}}}}}}}};
    EXPECT_EQ(stale_of(c, listed_container(on_network)), "");
    EXPECT_THAT(stale_of(c, listed_container({{"HostConfig", {{"NetworkMode", "none"}}}})),
                HasSubstr("the configuration asks for 'ci-t1' (network mode internal)"));
    EXPECT_THAT(stale_of(c, listed_container({{"HostConfig", {{"NetworkMode", "ci-t1"}}}})),
                HasSubstr("no address on network ci-t1"));
    c.network = NetworkMode::internet;  // another mode's network
    EXPECT_THAT(stale_of(c, listed_container(on_network)), HasSubstr("asks for 'ci-t1-net'"));
}

TEST(DockerApi, MissingImageIsToldFromOtherNotFoundAnswers) {
    EXPECT_TRUE(is_missing_image(404, R"({"message":"No such image: code-interpreter-worker:latest"})"));
    EXPECT_FALSE(is_missing_image(404, R"({"message":"No such container: c1"})"));
    EXPECT_FALSE(is_missing_image(500, R"({"message":"No such image: x"})"));
    EXPECT_THAT(missing_image_message(BackendConfig{}),
                HasSubstr("the worker image code-interpreter-worker:latest does not exist (build it with "
                          "docker/build-image.sh"));
}

TEST(HostFailure, TextsThatSayTheHostRanOutOfSomethingAreExhausted) {
    using ci::host_failure::failure;
    const Status disk = failure<Status>("write /var/lib/docker/x: no space left on device");
    EXPECT_EQ(disk.kind(), FailureKind::exhausted);
    EXPECT_EQ(disk.error(), "host disk full: write /var/lib/docker/x: no space left on device");
    EXPECT_EQ(failure<Status>("making /d: No space left on device").kind(), FailureKind::exhausted);  // strerror
    EXPECT_EQ(failure<Status>("open /d/x.img: Disk quota exceeded").error(), "host disk full: open /d/x.img: Disk quota exceeded");
    EXPECT_EQ(failure<Status>("pipe: Too many open files in system").kind(), FailureKind::exhausted);
    EXPECT_EQ(failure<Status>("could not find an available, non-overlapping IPv4 address pool among the defaults")
                  .kind(), FailureKind::exhausted);
    EXPECT_EQ(failure<Status>("no available IPv4 addresses on this network's address pools: ci-t1").kind(),
              FailureKind::exhausted);
    EXPECT_EQ(failure<Status>("unmounting /m: Device or resource busy").kind(), FailureKind::other);
    // A kind the caller knows is kept, text and all: this ENOSPC is about loop devices, not disk.
    const Status known = failure<Status>("no free loop device: LOOP_CTL_GET_FREE: No space left on device",
                                         FailureKind::exhausted);
    EXPECT_EQ(known.kind(), FailureKind::exhausted);
    EXPECT_EQ(known.error(), "no free loop device: LOOP_CTL_GET_FREE: No space left on device");
    EXPECT_EQ(failure<Status>("GET /_ping: no space left on device", FailureKind::unavailable).kind(),
              FailureKind::unavailable);
}

TEST(DockerApi, InspectRunning) {
    auto r = parse_inspect_response(200, R"({"State":{"Status":"running","Running":true,"OOMKilled":false,"ExitCode":0}})");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().state, WorkerState::running);
}

TEST(DockerApi, InspectExited) {
    auto r = parse_inspect_response(
        200, R"({"State":{"Status":"exited","Running":false,"OOMKilled":false,"ExitCode":3,
                 "Error":"","FinishedAt":"2025-01-01T00:00:00Z"}})");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().state, WorkerState::exited);
    EXPECT_EQ(r.value().exit_code, 3);
    EXPECT_THAT(r.value().detail, HasSubstr("code 3"));
    auto created = parse_inspect_response(200, R"({"State":{"Status":"created","Running":false,"ExitCode":0}})");
    ASSERT_TRUE(created.ok());
    EXPECT_EQ(created.value().state, WorkerState::exited);
    EXPECT_THAT(created.value().detail, HasSubstr("never started"));
}

TEST(DockerApi, InspectOomKilled) {
    auto dead = parse_inspect_response(200, R"({"State":{"Status":"exited","Running":false,"OOMKilled":true,"ExitCode":137}})");
    ASSERT_TRUE(dead.ok());
    EXPECT_EQ(dead.value().state, WorkerState::oom_killed);
    EXPECT_EQ(dead.value().exit_code, 137);
    // The kernel was killed for memory while the agent (and so the container) lives on.
    auto alive = parse_inspect_response(200, R"({"State":{"Status":"running","Running":true,"OOMKilled":true,"ExitCode":0}})");
    ASSERT_TRUE(alive.ok());
    EXPECT_EQ(alive.value().state, WorkerState::oom_killed);
    EXPECT_THAT(alive.value().detail, HasSubstr("still running"));
}

TEST(DockerApi, InspectMissingAndErrors) {
    auto missing = parse_inspect_response(404, R"({"message":"No such container: x"})");
    ASSERT_TRUE(missing.ok());
    EXPECT_EQ(missing.value().state, WorkerState::missing);
    auto error = parse_inspect_response(500, R"({"message":"daemon on fire"})");
    ASSERT_FALSE(error.ok());
    EXPECT_THAT(error.error(), HasSubstr("daemon on fire"));
    EXPECT_FALSE(parse_inspect_response(200, "not json").ok());
    EXPECT_FALSE(parse_inspect_response(200, R"({"Id":"x"})").ok());
}

}  // namespace

namespace {

using namespace ci::docker;

TEST(DockerApi, OomCounterFilesCgroupV1) {
    const std::string id = "e75168bc0754d2a9142d36230b7ff40f9c8e530322cd3978fa6b3f31fd3019e3";
    const std::string text = "9:name=systemd:/docker/" + id + "\n8:pids:/docker/" + id + "\n4:memory:/docker/" + id +
                             "\n1:cpu,cpuacct:/docker/" + id + "\n0::/docker/" + id + "\n";
    const auto files = oom_counter_files(text, id, "/sys/fs/cgroup");
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0], "/sys/fs/cgroup/memory/docker/" + id + "/memory.oom_control");
    EXPECT_EQ(files[1], "/sys/fs/cgroup/docker/" + id + "/memory.events");
}

TEST(DockerApi, OomCounterFilesCgroupV2Systemd) {
    const std::string id = "abc123";
    const auto files = oom_counter_files("0::/system.slice/docker-abc123.scope\n", id);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0], "/sys/fs/cgroup/system.slice/docker-abc123.scope/memory.events");
}

TEST(DockerApi, OomCounterFilesIgnoreOtherProcesses) {
    // A recycled pid that now belongs to something else is never read.
    EXPECT_TRUE(oom_counter_files("4:memory:/user.slice\n0::/user.slice/session-1.scope\n", "abc123").empty());
    EXPECT_TRUE(oom_counter_files("4:memory:/docker/abc123/../x\n", "abc123").empty());
    EXPECT_TRUE(oom_counter_files("", "abc123").empty());
    EXPECT_TRUE(oom_counter_files("0::/docker/abc123\n", "").empty());
}

TEST(DockerApi, OomKillCount) {
    EXPECT_EQ(parse_oom_kill_count("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"), 2);
    EXPECT_EQ(parse_oom_kill_count("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n"), 1);
    EXPECT_EQ(parse_oom_kill_count("oom_kill_disable 0\nunder_oom 0\n"), -1);
    EXPECT_EQ(parse_oom_kill_count(""), -1);
    EXPECT_EQ(parse_oom_kill_count("oom_kill x\n"), -1);
}

}  // namespace
