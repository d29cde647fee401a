// The Kubernetes backend, loaded by a real gateway through the SDK, against the fake API server of
// tests/support (TLS with a test CA, a bearer token, the official schema checked on every object)
// whose kubelet runs each pod as real containers on the local dockerd: the agent and the kernel
// in two containers as two users with no privileges, the gateway reaching the agent over TCP with
// CurveZMQ. What this proves and what only a real cluster can is in docs/kubernetes.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "fake_kube_api.hpp"
#include "fake_kubelet.hpp"
#include "http_client.hpp"
#include "kube_schema.hpp"
#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kNamespace = "ci-test";
constexpr const char* kApiToken = "fake-kube-token-0123456789";

int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    ::close(fd);
    return ntohs(address.sin_port);
}

// A test CA, a fake API server and its kubelet; gateways are made per test or per suite.
class Cluster {
public:
    Cluster() {
        char pattern[] = "/tmp/ci-kube-test-XXXXXX";
        if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp");
        dir_ = pattern;
        certificates_ = make_test_certificates(dir_);
        std::ofstream(dir_ + "/token") << kApiToken << "\n";
        schema_ = KubeSchema::load();
        kubelet_ = std::make_unique<FakeKubelet>(std::to_string(::getpid()));
        api_ = std::make_unique<FakeKubeApi>(FakeKubeApi::Options{
            .token = kApiToken,
            .certificates = certificates_,
            .schema = schema_ ? &*schema_ : nullptr,
            .on_pod_created = [this](const json& pod) { kubelet_->pod_created(pod); },
            .on_pod_deleted = [this](const json& pod) { kubelet_->pod_deleted(pod); },
        });
        kubelet_->attach(*api_);
    }
    ~Cluster() {
        api_.reset();
        kubelet_.reset();
        std::filesystem::remove_all(dir_);
    }

    // The plugin table of a gateway whose workers are this cluster's pods; changed: keys whose
    // TOML values replace the defaults.
    std::string isolation_toml(const std::string& instance, const std::map<std::string, std::string>& changed = {}) const {
        const char* image = std::getenv("CI_TEST_WORKER_IMAGE");
        std::map<std::string, std::string> keys = {
            {"path", "\"" CI_BUILD_DIR "/plugins/libci_kubernetes_backend.so\""},
            {"api_url", "\"" + api_->url() + "\""},
            {"token_file", "\"" + dir_ + "/token\""},
            {"ca_file", "\"" + certificates_.ca_file + "\""},
            {"namespace", std::string("\"") + kNamespace + "\""},
            {"instance", "\"" + instance + "\""},
            {"image", "\"" + std::string(image && *image ? image : "code-interpreter-worker:latest") + "\""},
            {"image_pull_policy", "\"Never\""},
            {"start_timeout", "60"},
        };
        for (const auto& [key, value] : changed) keys[key] = value;
        std::string toml = "[plugins.kubernetes-backend]\n";
        for (const auto& [key, value] : keys) toml += key + " = " + value + "\n";
        return toml;
    }
    TestGatewayOptions gateway_options(const std::string& name, const std::map<std::string, std::string>& changed = {}) const {
        TestGatewayOptions options{.min_idle = 1, .max_total = 3, .timeout_s = 30};
        options.loop_disk = false;
        options.isolation_toml = isolation_toml(instance_name(name), changed);
        return options;
    }
    const std::string& dir() const { return dir_; }
    const std::string& ca_file() const { return certificates_.ca_file; }

    FakeKubeApi& api() { return *api_; }
    FakeKubelet& kubelet() { return *kubelet_; }
    bool has_schema() const { return schema_.has_value(); }

private:
    std::string dir_;
    TestCertificates certificates_;
    std::optional<KubeSchema> schema_;
    std::unique_ptr<FakeKubelet> kubelet_;
    std::unique_ptr<FakeKubeApi> api_;
};

class KubernetesBackendTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        cluster_ = std::make_unique<Cluster>();
        gateway_ = std::make_unique<TestGateway>("kube", cluster_->gateway_options("kube"));
    }
    static void TearDownTestSuite() {
        gateway_.reset();
        // The gateway removed every pod and Secret it made.
        EXPECT_TRUE(wait_until([] { return cluster_->api().objects("pods").empty(); }, 20s));
        EXPECT_TRUE(cluster_->api().objects("secrets").empty());
        EXPECT_TRUE(wait_until([] { return cluster_->kubelet().running_containers() == 0; }, 20s));
        cluster_.reset();
    }
    static std::string url() { return gateway_->url(""); }
    static std::string pod_of(const std::string& user) {
        // The session's worker: the one pod whose kernel knows the user's marker.
        for (const json& pod : cluster_->api().objects("pods")) {
            const std::string name = pod["metadata"]["name"];
            const auto seen = run_command("docker exec " + cluster_->kubelet().container_name(name, "kernel") +
                                          " cat /sandbox/owner 2>/dev/null");
            if (seen.output == user) return name;
        }
        return "";
    }

    static inline std::unique_ptr<Cluster> cluster_;
    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(KubernetesBackendTest, CodeRunsStatefullyInAPodOfTwoUnprivilegedContainers) {
    const std::string user = user_of(0x501);
    auto first = execute_as(url(), user, "x = 41");
    ASSERT_EQ(first.status, 200) << first.body;
    auto second = execute_as(url(), user, "print(x + 1)");
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_EQ(result_text(second), "42\n");

    // User code runs as the kernel's user, without the agent's key and without any capability.
    auto who = execute_as(url(), user,
                          "import os\n"
                          "status = dict(l.split(':\\t') for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
                          "print(os.getuid(), 'CI_AGENT_KEY' in os.environ, status['CapEff'], status['CapBnd'], status['NoNewPrivs'])");
    ASSERT_EQ(who.status, 200) << who.body;
    EXPECT_EQ(result_text(who), "2100001000 False 0000000000000000 0000000000000000 1\n");

    // The pod in the API: two containers, its Secret beside it.
    const auto pods = cluster_->api().objects("pods");
    ASSERT_FALSE(pods.empty());
    for (const json& pod : pods) {
        EXPECT_EQ(pod["spec"]["containers"].size(), 2u);
        EXPECT_TRUE(cluster_->api().object("secrets", kNamespace, pod["metadata"]["name"]));
    }
    EXPECT_EQ(http_request("POST", gateway_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status,
              200);
}

TEST_F(KubernetesBackendTest, FilesGoBothWaysAndAnInterruptStopsTheCell) {
    const std::string user = user_of(0x502);
    auto upload = http_send("POST", gateway_->url("/api/v1/files?user_uuid=" + user + "&path=data.txt"), "hello pod",
                            kUserToken);
    ASSERT_EQ(upload.status, 200) << upload.body;
    auto read = execute_as(url(), user, "print(open('data.txt').read())");
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_EQ(result_text(read), "hello pod\n");

    auto sleeping = std::async(std::launch::async, [&] { return execute_as(url(), user, "import time\ntime.sleep(25)"); });
    std::this_thread::sleep_for(1500ms);
    auto interrupted = http_request("POST", gateway_->url("/api/v1/interrupt"), json{{"user_uuid", user}}.dump(), kUserToken);
    ASSERT_EQ(interrupted.status, 200) << interrupted.body;
    auto stopped = sleeping.get();
    EXPECT_EQ(stopped.status, 409) << stopped.body;
    EXPECT_EQ(reason_of(stopped), "interrupted");
    EXPECT_EQ(http_request("POST", gateway_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status,
              200);
}

TEST_F(KubernetesBackendTest, AKernelContainerThatDiesEndsItsSessionAndIsReplaced) {
    const std::string user = user_of(0x503);
    auto marked = execute_as(url(), user, "open('/sandbox/owner', 'w').write('" + user + "')");
    ASSERT_EQ(marked.status, 200) << marked.body;
    const std::string pod = pod_of(user);
    ASSERT_FALSE(pod.empty());
    auto sleeping = std::async(std::launch::async, [&] { return execute_as(url(), user, "import time\ntime.sleep(25)"); });
    std::this_thread::sleep_for(1500ms);
    command_output("docker kill " + cluster_->kubelet().container_name(pod, "kernel"));
    auto ended = sleeping.get();
    EXPECT_GE(ended.status, 500) << ended.body;
    EXPECT_EQ(body_of(ended)["session_kept"], false) << ended.body;
    // The next cell gets a new session on another pod; the dead pod goes.
    auto next = execute_as(url(), user, "print('again')");
    ASSERT_EQ(next.status, 200) << next.body;
    EXPECT_EQ(result_text(next), "again\n");
    EXPECT_TRUE(wait_until([&] { return !cluster_->api().object("pods", kNamespace, pod); }, 20s));
    EXPECT_FALSE(cluster_->api().object("secrets", kNamespace, pod));
    EXPECT_EQ(http_request("POST", gateway_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status,
              200);
}

TEST_F(KubernetesBackendTest, TheWatchStartsOverAfterAnExpiredVersionOrAClosedStream) {
    const int lists = cluster_->api().count("LIST pods");
    const int watches = cluster_->api().count("WATCH pods");
    cluster_->api().expire_history();
    // The watch from the old version gets 410 in its stream: the backend lists again.
    EXPECT_TRUE(wait_until([&] { return cluster_->api().count("LIST pods") > lists; }, 20s));
    cluster_->api().end_watches();
    EXPECT_TRUE(wait_until([&] { return cluster_->api().count("WATCH pods") >= watches + 2; }, 20s));
    // And workers still come and go.
    const std::string user = user_of(0x504);
    auto r = execute_as(url(), user, "print('after')");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(result_text(r), "after\n");
    EXPECT_EQ(http_request("POST", gateway_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status,
              200);
}

TEST_F(KubernetesBackendTest, EveryObjectTheBackendSentMatchedTheApiSchema) {
    if (!cluster_->has_schema())
        GTEST_SKIP() << "skipped: no Kubernetes API schema at " << KubeSchema::where_looked();
    ASSERT_GT(cluster_->api().count("POST pods"), 0);
    EXPECT_THAT(cluster_->api().invalid_objects(), ::testing::IsEmpty());
}

TEST(KubernetesLeftovers, ThisInstancesLeftoversAreRemovedAtStartAndOthersAreLeftAlone) {
    Cluster cluster;
    const std::string instance = instance_name("kube-left");
    auto leftover = [&](const std::string& id, const std::string& of_instance) {
        return json{{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"metadata",
                     {{"name", "ci-worker-" + id},
                      {"namespace", kNamespace},
                      {"labels",
                       {{"code-interpreter/managed", "true"},
                        {"code-interpreter/instance", of_instance},
                        {"code-interpreter/worker-id", id}}}}},
                    {"data", {{"agent-key", "eA=="}}}};
    };
    cluster.api().put("secrets", leftover("00000000000a", instance));
    cluster.api().put("secrets", leftover("00000000000b", "another-instance"));
    {
        TestGateway gateway("kube-left", cluster.gateway_options("kube-left"));
        EXPECT_TRUE(wait_until([&] { return !cluster.api().object("secrets", kNamespace, "ci-worker-00000000000a"); }, 20s));
        EXPECT_TRUE(cluster.api().object("secrets", kNamespace, "ci-worker-00000000000b"));
        auto r = execute_as(gateway.url(""), user_of(0x505), "print(1)");
        EXPECT_EQ(r.status, 200) << r.body;
    }
    EXPECT_TRUE(wait_until([&] { return cluster.kubelet().running_containers() == 0; }, 20s));
}

// A pod object as another party left it (never run by the kubelet: put straight into the store).
json plain_pod(const std::string& name, const json& labels) {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", kNamespace}, {"labels", labels}}},
            {"spec", {{"containers", json::array({{{"name", "main"}, {"image", "none"}}})}}},
            {"status", {{"phase", "Pending"}}}};
}

// Two gateways of one instance sharing their sessions through claims in the API (share_sessions).
class SharedSessionsTest : public ::testing::Test {
protected:
    static TestGatewayOptions options(const std::string& gateway_id) {
        TestGatewayOptions options{.min_idle = 1, .max_total = 4, .timeout_s = 30};
        options.loop_disk = false;
        options.isolation_toml = cluster_->isolation_toml(
            instance_name("kube-shared"), {{"share_sessions", "true"}, {"gateway_id", "\"" + gateway_id + "\""}});
        return options;
    }
    static void SetUpTestSuite() {
        cluster_ = std::make_unique<Cluster>();
        // A gateway's id is its pod's name: a gateway without a pod would count as gone.
        for (const char* id : {"gw-a", "gw-b"}) cluster_->api().put("pods", plain_pod(id, json::object()));
        a_ = std::make_unique<TestGateway>("kube-shared-a", options("gw-a"));
        b_ = std::make_unique<TestGateway>("kube-shared-b", options("gw-b"));
    }
    static void TearDownTestSuite() {
        a_.reset();
        b_.reset();
        EXPECT_TRUE(wait_until([] { return cluster_->api().objects("pods").size() == 2; }, 20s));  // the gateways'
        EXPECT_TRUE(cluster_->api().objects("configmaps").empty());
        cluster_.reset();
    }
    static std::string url(const std::unique_ptr<TestGateway>& gateway) { return gateway->url(""); }

    static inline std::unique_ptr<Cluster> cluster_;
    static inline std::unique_ptr<TestGateway> a_, b_;
};

TEST_F(SharedSessionsTest, EitherGatewayReachesTheSameKernel) {
    const std::string user = user_of(0x601);
    auto first = execute_as(url(a_), user, "x = 7");
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(body_of(first)["new_session"], true);
    EXPECT_EQ(cluster_->api().objects("configmaps").size(), 1u);  // the session's claim

    auto there = execute_as(url(b_), user, "x += 1\nprint(x)");
    ASSERT_EQ(there.status, 200) << there.body;
    EXPECT_EQ(result_text(there), "8\n");
    EXPECT_EQ(body_of(there)["new_session"], false);
    auto back = execute_as(url(a_), user, "print(x)");
    ASSERT_EQ(back.status, 200) << back.body;
    EXPECT_EQ(result_text(back), "8\n");

    // One execution at a time for the session, whichever gateway each came through.
    auto timed = [&](const std::unique_ptr<TestGateway>& gateway) {
        return std::async(std::launch::async, [&gateway, user] {
            return execute_as(url(gateway), user,
                              "import time\ns = time.time(); time.sleep(1); e = time.time()\n"
                              "spans = globals().get('spans', []) + [(s, e)]\nprint(len(spans))");
        });
    };
    auto one = timed(a_), two = timed(b_);
    ASSERT_EQ(one.get().status, 200);
    ASSERT_EQ(two.get().status, 200);
    auto spans = execute_as(url(b_), user, "spans.sort()\nprint(spans[0][1] <= spans[1][0])");
    EXPECT_EQ(result_text(spans), "True\n") << spans.body;

    // Released through either gateway: the pod and its claim go.
    ASSERT_EQ(http_request("POST", b_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status, 200);
    EXPECT_TRUE(wait_until([] { return cluster_->api().objects("configmaps").empty(); }, 20s));
}

TEST_F(SharedSessionsTest, TwoGatewaysStartingOneSessionAgreeOnOneKernel) {
    const std::string user = user_of(0x602);
    const std::string code = "import uuid\nmarker = globals().get('marker') or uuid.uuid4().hex\nprint(marker)";
    auto on_a = std::async(std::launch::async, [&] { return execute_as(url(a_), user, code); });
    auto on_b = std::async(std::launch::async, [&] { return execute_as(url(b_), user, code); });
    const auto ra = on_a.get(), rb = on_b.get();
    ASSERT_EQ(ra.status, 200) << ra.body;
    ASSERT_EQ(rb.status, 200) << rb.body;
    EXPECT_EQ(result_text(ra), result_text(rb));
    EXPECT_EQ(cluster_->api().objects("configmaps").size(), 1u);
    ASSERT_EQ(http_request("POST", a_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status, 200);
}

TEST_F(SharedSessionsTest, AGatewayThatStopsLosesNoSession) {
    const std::string user = user_of(0x603);
    auto made = execute_as(url(a_), user, "kept = 'on a'");
    ASSERT_EQ(made.status, 200) << made.body;
    a_.reset();  // gateway A goes away; its session stays claimed
    auto after = execute_as(url(b_), user, "print(kept)");
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(result_text(after), "on a\n");
    EXPECT_EQ(body_of(after)["new_session"], false);
    // A comes back (another instance of it) and serves the session too.
    a_ = std::make_unique<TestGateway>("kube-shared-a", options("gw-a"));
    auto again = execute_as(url(a_), user, "print(kept)");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(result_text(again), "on a\n");
    ASSERT_EQ(http_request("POST", a_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status, 200);
}

TEST(KubernetesSharedLeftovers, AGoneGatewaysIdleWorkersAndAbandonedSessionsGoOthersStay) {
    Cluster cluster;
    const std::string instance = instance_name("kube-shared-left");
    auto worker = [&](const std::string& id, const std::string& gateway) {
        return plain_pod("ci-worker-" + id, {{"code-interpreter/managed", "true"},
                                             {"code-interpreter/instance", instance},
                                             {"code-interpreter/worker-id", id},
                                             {"code-interpreter/gateway", gateway}});
    };
    cluster.api().put("pods", plain_pod("gw-live", json::object()));
    cluster.api().put("pods", worker("00000000000c", "gw-gone"));  // idle, its gateway gone: removed
    cluster.api().put("pods", worker("00000000000d", "gw-gone"));  // claimed by a session: kept
    cluster.api().put("pods", worker("00000000000e", "gw-live"));  // another live gateway's: kept
    cluster.api().put("pods", worker("00000000000f", "gw-gone"));  // claimed, but abandoned: swept
    auto claim = [&](char session, const std::string& id, std::int64_t renewed) {
        return json{{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata",
                     {{"name", "ci-session-" + std::string(64, session)},
                      {"namespace", kNamespace},
                      {"labels",
                       {{"code-interpreter/managed", "true"},
                        {"code-interpreter/instance", instance},
                        {"code-interpreter/worker-id", id}}}}},
                    {"data", {{"worker", id}, {"gateway", "gw-gone"}, {"renewed", std::to_string(renewed)}}}};
    };
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    cluster.api().put("configmaps", claim('a', "00000000000d", now_ms));              // renewed just now
    cluster.api().put("configmaps", claim('b', "00000000000f", now_ms - 7'200'000));  // two hours ago
    TestGatewayOptions options{.min_idle = 1, .max_total = 2, .timeout_s = 30};
    options.loop_disk = false;
    options.isolation_toml =
        cluster.isolation_toml(instance, {{"share_sessions", "true"}, {"gateway_id", "\"gw-new\""}});
    cluster.api().put("pods", plain_pod("gw-new", json::object()));
    {
        TestGateway gateway("kube-shared-left", options);
        EXPECT_TRUE(wait_until([&] { return !cluster.api().object("pods", kNamespace, "ci-worker-00000000000c"); }, 20s));
        EXPECT_TRUE(cluster.api().object("pods", kNamespace, "ci-worker-00000000000d"));
        EXPECT_TRUE(cluster.api().object("pods", kNamespace, "ci-worker-00000000000e"));
        // Past the idle timeout (an hour) with no renewal: the sweep removes it and its claim.
        EXPECT_TRUE(wait_until([&] { return !cluster.api().object("pods", kNamespace, "ci-worker-00000000000f"); }, 20s));
        EXPECT_FALSE(cluster.api().object("configmaps", kNamespace, "ci-session-" + std::string(64, 'b')));
        EXPECT_TRUE(cluster.api().object("configmaps", kNamespace, "ci-session-" + std::string(64, 'a')));
    }
    EXPECT_TRUE(wait_until([&] { return cluster.kubelet().running_containers() == 0; }, 20s));
}

TEST(KubernetesGatewayImage, TheGatewaysOwnImageServesSessionsFromPods) {
    // The image deploy/kubernetes runs (docker/build-image.sh --profile gateway), as a container on
    // the host's network, against the same fake API server.
    const std::string image = "code-interpreter-gateway:latest";
    ASSERT_EQ(run_command("docker image inspect " + image + " >/dev/null 2>&1").status, 0)
        << image << " is not built: docker/build-image.sh --profile gateway (scripts/build.sh does it)";
    Cluster cluster;
    const int port = free_loopback_port();
    const std::string config_dir = cluster.dir() + "/gateway";
    std::filesystem::create_directories(config_dir);
    std::filesystem::copy_file(cluster.dir() + "/token", config_dir + "/kube-token");
    std::filesystem::copy_file(cluster.ca_file(), config_dir + "/ca.crt");
    const std::string instance = instance_name("kube-image");
    std::ofstream(config_dir + "/config.toml")
        << "[server]\nhost = \"127.0.0.1\"\nport = " << port
        << "\n[pool]\nmin_idle_workers = 1\nmax_total_workers = 2\nstate_file = \"/var/lib/code-interpreter/pool-state.json\"\n"
           "[plugins.auth-token]\npath = \"/usr/lib/code-interpreter/plugins/libci_auth_token.so\"\ntoken = \""
        << kUserToken << "\"\nadmin_token = \"" << kAdminToken << "\"\n"
        << cluster.isolation_toml(instance, {{"path", "\"/usr/lib/code-interpreter/plugins/libci_kubernetes_backend.so\""},
                                             {"token_file", "\"/etc/code-interpreter/kube-token\""},
                                             {"ca_file", "\"/etc/code-interpreter/ca.crt\""}});
    // The gateway's user passes through to its config.
    std::filesystem::permissions(cluster.dir(), std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                                    std::filesystem::perms::others_exec);
    const std::string name = "ci-kube-gateway-" + std::to_string(::getpid());
    struct Removed {  // the container goes on every path out of the test
        std::string name;
        ~Removed() { run_command("docker rm -f " + name + " >/dev/null 2>&1"); }
    } removed{name};
    command_output("docker run -d --name " + name + " --network host --read-only --cap-drop ALL "
                   "--security-opt no-new-privileges --tmpfs /var/lib/code-interpreter:uid=2100000900,gid=2100000900 "
                   "-v " + config_dir + ":/etc/code-interpreter:ro " + image);
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    const bool healthy = wait_until(
        [&] {
            try {
                return http_request("GET", base + "/health").status == 200;
            } catch (const std::exception&) {  // not listening yet
                return false;
            }
        },
        60s);
    if (healthy) {
        const std::string user = user_of(0x506);
        auto r = execute_as(base, user, "import os\nprint(os.getuid())");
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(result_text(r), "2100001000\n");
        EXPECT_FALSE(cluster.api().objects("pods").empty());
    }
    const std::string logs = run_command("docker logs " + name + " 2>&1").output;
    run_command("docker stop -t 20 " + name + " >/dev/null");
    ASSERT_TRUE(healthy) << "the gateway's container did not answer /health:\n" << logs;
    // Stopped, it removed the pods it made.
    EXPECT_TRUE(cluster.api().objects("pods").empty()) << logs;
}

TEST(KubernetesStart, AnApiThatRefusesOrCannotBeReachedStopsTheGatewayWithTheReason) {
    Cluster cluster;
    std::ofstream(cluster.dir() + "/wrong-token") << "not-the-token\n";
    char other_ca[] = "/tmp/ci-kube-other-ca-XXXXXX";
    ASSERT_NE(::mkdtemp(other_ca), nullptr);
    const TestCertificates other = make_test_certificates(other_ca);
    const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
        {{{"token_file", "\"" + cluster.dir() + "/wrong-token\""}}, "401"},
        {{{"ca_file", "\"" + other.ca_file + "\""}}, "cannot be reached"},  // a server our CA did not sign
        {{{"api_url", "\"https://127.0.0.1:1\""}}, "cannot be reached"},
    };
    for (const auto& [changed, expected] : cases) {
        try {
            TestGateway gateway("kube-refused", cluster.gateway_options("kube-refused", changed));
            ADD_FAILURE() << "the gateway started with " << changed.begin()->first << " = " << changed.begin()->second;
        } catch (const std::exception& e) {
            EXPECT_THAT(e.what(), HasSubstr(expected)) << changed.begin()->first;
        }
    }
    std::filesystem::remove_all(other_ca);
    EXPECT_EQ(cluster.api().count("POST pods"), 0);
}

}  // namespace
}  // namespace ci::test
