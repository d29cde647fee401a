// The Kubernetes backend against a real cluster: run with CI_E2E_KUBECONFIG naming a kubeconfig
// whose current context authenticates with a bearer token (token or tokenFile), and
// CI_E2E_WORKER_IMAGE naming a worker image the cluster's nodes can pull (optional:
// CI_E2E_NAMESPACE, default code-interpreter-e2e, which must exist with the Role of
// deploy/kubernetes/gateway-rbac.yaml bound to that token's account; CI_E2E_STORAGE_CLASS). Without
// them every test says "skipped: no cluster". The gateway runs in the test process, outside the
// cluster: it must reach the pods' addresses (a flat network, or run the test on a node).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "api_helpers.hpp"
#include "code_interpreter/protocol/base64.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string environment(const char* name, const std::string& fallback = "") {
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

// The cluster the environment names, as the plugin's settings; nullopt (with why) when none.
struct RealCluster {
    std::string api_url, token_file, ca_file, namespace_, image, storage_class;
};

std::optional<RealCluster> real_cluster(const std::string& dir, std::string& why) {
    const std::string kubeconfig = environment("CI_E2E_KUBECONFIG");
    const std::string image = environment("CI_E2E_WORKER_IMAGE");
    if (kubeconfig.empty() || image.empty()) {
        why = "skipped: no cluster (set CI_E2E_KUBECONFIG and CI_E2E_WORKER_IMAGE to run against one)";
        return std::nullopt;
    }
    const YAML::Node config = YAML::LoadFile(kubeconfig);
    const std::string context_name = config["current-context"].as<std::string>("");
    auto named = [&](const char* list, const std::string& name) -> YAML::Node {
        for (const YAML::Node& item : config[list])
            if (item["name"].as<std::string>("") == name) return item;
        return YAML::Node();
    };
    const YAML::Node context = named("contexts", context_name)["context"];
    const YAML::Node cluster = named("clusters", context["cluster"].as<std::string>(""))["cluster"];
    const YAML::Node user = named("users", context["user"].as<std::string>(""))["user"];
    RealCluster out{cluster["server"].as<std::string>(""), "", "", environment("CI_E2E_NAMESPACE", "code-interpreter-e2e"),
                    image, environment("CI_E2E_STORAGE_CLASS")};
    if (user["token"]) {
        out.token_file = dir + "/token";
        std::ofstream(out.token_file) << user["token"].as<std::string>();
    } else if (user["tokenFile"]) {
        out.token_file = user["tokenFile"].as<std::string>();
    } else {
        why = "skipped: the kubeconfig's user has no bearer token (the plugin authenticates with one)";
        return std::nullopt;
    }
    if (cluster["certificate-authority-data"]) {
        out.ca_file = dir + "/ca.crt";
        std::ofstream(out.ca_file)
            << protocol::base64_decode(cluster["certificate-authority-data"].as<std::string>()).value_or("");
    } else {
        out.ca_file = cluster["certificate-authority"].as<std::string>("");
    }
    if (out.api_url.empty() || out.ca_file.empty()) {
        why = "skipped: the kubeconfig's cluster names no https server with a CA";
        return std::nullopt;
    }
    return out;
}

class RealClusterTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        char pattern[] = "/tmp/ci-e2e-XXXXXX";
        if (!::mkdtemp(pattern)) return;
        dir_ = pattern;
        cluster_ = real_cluster(dir_, why_);
        if (!cluster_) return;
        gateway_ = std::make_unique<TestGateway>("e2e", options("gw-e2e-a"));
    }
    static void TearDownTestSuite() {
        gateway_.reset();
        std::filesystem::remove_all(dir_);
    }
    void SetUp() override {
        if (!cluster_) GTEST_SKIP() << why_;
    }
    static TestGatewayOptions options(const std::string& gateway_id) {
        TestGatewayOptions options{.min_idle = 1, .max_total = 3, .timeout_s = 60};
        options.loop_disk = false;
        options.isolation_toml = "[plugins.kubernetes-backend]\npath = \"" CI_BUILD_DIR "/plugins/libci_kubernetes_backend.so\"\n"
                                 "api_url = \"" + cluster_->api_url + "\"\ntoken_file = \"" + cluster_->token_file +
                                 "\"\nca_file = \"" + cluster_->ca_file + "\"\nnamespace = \"" + cluster_->namespace_ +
                                 "\"\nimage = \"" + cluster_->image + "\"\ninstance = \"" + instance_name("e2e") +
                                 "\"\nshare_sessions = true\ngateway_id = \"" + gateway_id + "\"\n" +
                                 (cluster_->storage_class.empty() ? "" : "storage_class = \"" + cluster_->storage_class + "\"\n");
        return options;
    }
    static std::string url() { return gateway_->url(""); }

    static inline std::string dir_, why_;
    static inline std::optional<RealCluster> cluster_;
    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(RealClusterTest, CodeRunsStatefullyAsTheKernelUserWithoutTheKey) {
    const std::string user = user_of(0x701);
    ASSERT_EQ(execute_as(url(), user, "x = 41").status, 200);
    auto r = execute_as(url(), user, "import os\nprint(x + 1, os.getuid(), 'CI_AGENT_KEY' in os.environ)");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(result_text(r), "42 2100001000 False\n");
    EXPECT_EQ(http_request("POST", gateway_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status, 200);
}

TEST_F(RealClusterTest, AFullWorkspaceAnswersENOSPCWithAStorageClass) {
    if (cluster_->storage_class.empty()) GTEST_SKIP() << "skipped: no CI_E2E_STORAGE_CLASS (an emptyDir workspace is evicted instead)";
    const std::string user = user_of(0x702);
    // worker.disk_mb is 500 (the default): 1 GiB in 16 MiB writes cannot fit.
    auto r = execute_as(url(), user,
                        "import errno\ntry:\n    with open('big', 'wb') as f:\n"
                        "        for _ in range(64):\n            f.write(b'0' * (16 << 20))\n            f.flush()\n"
                        "    print('no error')\nexcept OSError as e:\n    print(e.errno == errno.ENOSPC)");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(result_text(r), "True\n");
    EXPECT_EQ(http_request("POST", gateway_->url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status, 200);
}

TEST_F(RealClusterTest, ASecondGatewayTakesUpTheSession) {
    const std::string user = user_of(0x703);
    ASSERT_EQ(execute_as(url(), user, "kept = 'yes'").status, 200);
    TestGateway other("e2e-b", options("gw-e2e-b"));
    auto r = execute_as(other.url(""), user, "print(kept)");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(result_text(r), "yes\n");
    EXPECT_EQ(http_request("POST", other.url("/api/v1/release"), json{{"user_uuid", user}}.dump(), kUserToken).status, 200);
}

}  // namespace
}  // namespace ci::test
