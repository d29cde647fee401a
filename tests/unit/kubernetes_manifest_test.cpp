// The objects the Kubernetes backend sends for a worker, against the official API schema and
// against what the backend promises of them (docs/kubernetes.md): no privileges, requests =
// limits, the key only in the agent's container, the workspace of the configured kind.
#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backend_settings.hpp"
#include "kube_schema.hpp"
#include "pod_manifest.hpp"

namespace ci::kube {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

plugin::WorkerSpec spec() {
    plugin::WorkerSpec s;
    s.worker_id = "0123456789ab";
    s.agent_key = "secret-agent-key-0123456789";
    s.limits.cpus = 1.5;
    s.limits.memory_mb = 1024;
    s.limits.tmp_mb = 64;
    s.workspace_mb = 500;
    return s;
}

const json& container(const json& pod, const std::string& name) {
    for (const json& c : pod["spec"]["containers"])
        if (c["name"] == name) return c;
    throw std::runtime_error("no container " + name);
}

const json& volume(const json& pod, const std::string& name) {
    for (const json& v : pod["spec"]["volumes"])
        if (v["name"] == name) return v;
    throw std::runtime_error("no volume " + name);
}

void expect_valid(const json& object) {
    static const auto schema = ci::test::KubeSchema::load();
    if (!schema) GTEST_SKIP() << "skipped: no Kubernetes API schema at " << ci::test::KubeSchema::where_looked();
    const std::string definition = schema->definition_of(object);
    ASSERT_FALSE(definition.empty()) << object["apiVersion"] << " " << object["kind"];
    for (const std::string& problem : schema->validate(object, definition)) ADD_FAILURE() << definition << ": " << problem;
}

TEST(KubernetesManifest, EveryObjectSentIsValidAgainstTheApiSchema) {
    BackendSettings plain;
    expect_valid(worker_pod(plain, "sandboxes", spec()));
    expect_valid(worker_secret(plain, "sandboxes", spec()));
    BackendSettings everything;
    everything.storage_class = "fast-ssd";
    everything.runtime_class = "gvisor";
    everything.node_selector = {{"pool", "sandboxes"}};
    everything.tolerations = json::array({{{"key", "sandbox"}, {"operator", "Exists"}, {"effect", "NoSchedule"}},
                                          {{"key", "spot"}, {"value", "yes"}, {"tolerationSeconds", 30}}});
    expect_valid(worker_pod(everything, "sandboxes", spec()));
    // DeleteOptions has no kind of its own in the schema's index: name its definition.
    static const auto schema = ci::test::KubeSchema::load();
    if (!schema) GTEST_SKIP() << "skipped: no Kubernetes API schema at " << ci::test::KubeSchema::where_looked();
    for (const auto& problem :
         schema->validate(delete_options(), "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"))
        ADD_FAILURE() << problem;
}

TEST(KubernetesManifest, TheSchemaCheckFindsWhatIsWrong) {
    // The validator itself, so that a pass above means something.
    static const auto schema = ci::test::KubeSchema::load();
    if (!schema) GTEST_SKIP() << "skipped: no Kubernetes API schema at " << ci::test::KubeSchema::where_looked();
    json pod = worker_pod(BackendSettings{}, "ns", spec());
    pod["spec"]["restartPolicyy"] = "Never";                                  // misspelt field
    pod["spec"]["containers"][0]["resources"]["limits"]["memory"] = "lots";  // not a quantity
    pod["spec"]["containers"][1]["securityContext"]["runAsUser"] = "1000";   // a string for an integer
    pod["spec"]["volumes"][0].erase("name");                                 // required
    const auto problems = schema->validate(pod);
    ASSERT_EQ(problems.size(), 4u) << ::testing::PrintToString(problems);
    EXPECT_THAT(problems[0] + problems[1] + problems[2] + problems[3], HasSubstr("spec.restartPolicyy: no such field"));
}

TEST(KubernetesManifest, ThePodRunsWithoutAnyPrivilege) {
    const json pod = worker_pod(BackendSettings{}, "sandboxes", spec());
    const json& s = pod["spec"];
    EXPECT_EQ(s["restartPolicy"], "Never");
    EXPECT_EQ(s["automountServiceAccountToken"], false);
    EXPECT_EQ(s["enableServiceLinks"], false);
    EXPECT_EQ(s["hostNetwork"], false);
    EXPECT_EQ(s["securityContext"]["runAsNonRoot"], true);
    EXPECT_EQ(s["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    EXPECT_EQ(s["securityContext"]["fsGroup"], kImageKernelId);
    ASSERT_EQ(s["containers"].size(), 2u);
    for (const json& c : s["containers"]) {
        const json& sc = c["securityContext"];
        EXPECT_EQ(sc["allowPrivilegeEscalation"], false) << c["name"];
        EXPECT_EQ(sc["privileged"], false) << c["name"];
        EXPECT_EQ(sc["readOnlyRootFilesystem"], true) << c["name"];
        EXPECT_EQ(sc["runAsNonRoot"], true) << c["name"];
        EXPECT_EQ(sc["capabilities"]["drop"], json::array({"ALL"})) << c["name"];
        EXPECT_FALSE(sc["capabilities"].contains("add")) << c["name"];
        EXPECT_EQ(c["resources"]["requests"], c["resources"]["limits"]) << c["name"];
        EXPECT_TRUE(c["resources"]["limits"].contains("ephemeral-storage")) << c["name"];
    }
    EXPECT_EQ(container(pod, "agent")["securityContext"]["runAsUser"], kImageAgentId);
    EXPECT_EQ(container(pod, "kernel")["securityContext"]["runAsUser"], kImageKernelId);
}

TEST(KubernetesManifest, TheKernelGetsTheWorkersLimitsAndTheWorkspace) {
    const json pod = worker_pod(BackendSettings{}, "sandboxes", spec());
    const json& kernel = container(pod, "kernel");
    EXPECT_EQ(kernel["resources"]["limits"]["cpu"], "1500m");
    EXPECT_EQ(kernel["resources"]["limits"]["memory"], "1024Mi");
    EXPECT_EQ(volume(pod, "tmp")["emptyDir"]["medium"], "Memory");
    EXPECT_EQ(volume(pod, "tmp")["emptyDir"]["sizeLimit"], "64Mi");
    // No storage class: an emptyDir bounded by eviction (documented); with one: a real volume.
    EXPECT_EQ(volume(pod, "workspace")["emptyDir"]["sizeLimit"], "500Mi");
    BackendSettings with_class;
    with_class.storage_class = "fast-ssd";
    const json claimed = worker_pod(with_class, "sandboxes", spec());
    const json& claim = volume(claimed, "workspace")["ephemeral"]["volumeClaimTemplate"]["spec"];
    EXPECT_EQ(claim["storageClassName"], "fast-ssd");
    EXPECT_EQ(claim["resources"]["requests"]["storage"], "500Mi");
    bool mounted = false;
    for (const json& m : kernel["volumeMounts"]) mounted |= m["name"] == "workspace" && m["mountPath"] == "/sandbox";
    EXPECT_TRUE(mounted);
    for (const json& m : container(pod, "agent")["volumeMounts"]) EXPECT_EQ(m["name"], "link");
}

TEST(KubernetesManifest, TheKernelsSideImportsThePreloadList) {
    const json& plain = container(worker_pod(BackendSettings{}, "sandboxes", spec()), "kernel")["command"];
    EXPECT_EQ(std::find(plain.begin(), plain.end(), "--preload"), plain.end());
    plugin::WorkerSpec preloading = spec();
    preloading.preload_modules = {"numpy", "pandas"};
    const json pod = worker_pod(BackendSettings{}, "sandboxes", preloading);
    const json& command = container(pod, "kernel")["command"];
    ASSERT_GE(command.size(), 2u);
    EXPECT_EQ(command[command.size() - 2], "--preload");
    EXPECT_EQ(command.back(), "numpy,pandas");
    const json& agent = container(pod, "agent")["command"];
    EXPECT_EQ(std::find(agent.begin(), agent.end(), "--preload"), agent.end());
}

TEST(KubernetesManifest, TheKeyIsInTheSecretAndReachesOnlyTheAgent) {
    const json pod = worker_pod(BackendSettings{}, "sandboxes", spec());
    EXPECT_EQ(pod.dump().find(spec().agent_key), std::string::npos);
    const json secret = worker_secret(BackendSettings{}, "sandboxes", spec());
    EXPECT_EQ(secret["stringData"][kSecretKeyField], spec().agent_key);
    EXPECT_EQ(secret["immutable"], true);
    EXPECT_EQ(secret["metadata"]["name"], pod["metadata"]["name"]);
    const json& env = container(pod, "agent")["env"];
    ASSERT_EQ(env.size(), 1u);
    EXPECT_EQ(env[0]["valueFrom"]["secretKeyRef"]["name"], "ci-worker-0123456789ab");
    EXPECT_FALSE(container(pod, "kernel").contains("env"));
    const json command = container(pod, "agent")["command"];
    EXPECT_THAT(command.dump(), HasSubstr(R"("--key-env","CI_AGENT_KEY")"));
    EXPECT_THAT(command.dump(), HasSubstr(R"("--listen","tcp://0.0.0.0:7000")"));
}

TEST(KubernetesManifest, LabelsMarkTheInstanceAndTheWorkerAndSettingsAreFingerprinted) {
    BackendSettings settings;
    settings.instance = "prod-a";
    const json pod = worker_pod(settings, "sandboxes", spec());
    const json& labels = pod["metadata"]["labels"];
    EXPECT_EQ(labels[kLabelInstance], "prod-a");
    EXPECT_EQ(labels[kLabelWorkerId], "0123456789ab");
    EXPECT_EQ(labels[kLabelEgress], "none");
    EXPECT_EQ(instance_selector(settings), "code-interpreter/managed=true,code-interpreter/instance=prod-a");
    EXPECT_EQ(pod["metadata"]["annotations"][kAnnotationTemplate], template_fingerprint(settings));
    BackendSettings other = settings;
    EXPECT_EQ(template_fingerprint(other), template_fingerprint(settings));
    other.image = "code-interpreter-worker:full";
    EXPECT_NE(template_fingerprint(other), template_fingerprint(settings));
}

plugin::PluginContext context(json table) {
    plugin::PluginContext c;
    c.name = "kubernetes-backend";
    c.config_dir = "/etc/code-interpreter";
    c.config = std::move(table);
    return c;
}

TEST(KubernetesSettings, DefaultsAndValuesAreRead) {
    const BackendSettings defaults = parse_backend_settings(context(json::object()));
    EXPECT_EQ(defaults.image, "code-interpreter-worker:latest");
    EXPECT_EQ(defaults.agent_port, 7000);
    EXPECT_TRUE(defaults.access.token_file.empty());
    const BackendSettings s = parse_backend_settings(context({{"namespace", "sandboxes"},
                                                              {"token_file", "kube/token"},
                                                              {"storage_class", "fast-ssd"},
                                                              {"egress", "internet"},
                                                              {"node_selector", {{"pool", "sandboxes"}}},
                                                              {"tolerations", {{{"key", "k"}, {"operator", "Exists"}}}},
                                                              {"start_timeout", 30}}));
    EXPECT_EQ(s.access.namespace_, "sandboxes");
    EXPECT_EQ(s.access.token_file, "/etc/code-interpreter/kube/token");
    EXPECT_EQ(s.storage_class, "fast-ssd");
    EXPECT_EQ(s.egress, "internet");
    EXPECT_EQ(s.node_selector["pool"], "sandboxes");
    EXPECT_EQ(s.tolerations.size(), 1u);
    EXPECT_EQ(s.start_timeout, std::chrono::seconds(30));
}

TEST(KubernetesSettings, SharedSessionsNeedAGatewayIdWhichDefaultsToTheHostName) {
    const BackendSettings shared = parse_backend_settings(context({{"share_sessions", true}}), "gateway-5d9f-x2");
    EXPECT_TRUE(shared.share_sessions);
    EXPECT_EQ(shared.gateway_id, "gateway-5d9f-x2");
    EXPECT_EQ(own_selector(shared), instance_selector(shared) + ",code-interpreter/gateway=gateway-5d9f-x2");
    EXPECT_EQ(worker_pod(shared, "ns", spec())["metadata"]["labels"][kLabelGateway], "gateway-5d9f-x2");
    EXPECT_EQ(parse_backend_settings(context({{"share_sessions", true}, {"gateway_id", "gw-1"}}), "h").gateway_id, "gw-1");
    EXPECT_THROW(parse_backend_settings(context({{"share_sessions", true}}), ""), std::invalid_argument);
    // Alone, a gateway's pods carry no gateway label and it lists them all.
    EXPECT_FALSE(worker_pod(BackendSettings{}, "ns", spec())["metadata"]["labels"].contains(kLabelGateway));
    EXPECT_EQ(own_selector(BackendSettings{}), instance_selector(BackendSettings{}));
}

TEST(KubernetesManifest, ASessionsClaimIsAValidConfigMapNamingItsWorker) {
    BackendSettings shared;
    shared.share_sessions = true;
    shared.gateway_id = "gw-1";
    const json claim = session_claim(shared, "ns", std::string(64, 'f'), "0123456789ab", 1700000000000);
    EXPECT_EQ(claim["metadata"]["name"], "ci-session-" + std::string(64, 'f'));
    EXPECT_EQ(claim["metadata"]["labels"][kLabelWorkerId], "0123456789ab");
    EXPECT_EQ(claim["data"]["worker"], "0123456789ab");
    EXPECT_EQ(claim["data"]["renewed"], "1700000000000");
    expect_valid(claim);
}

TEST(KubernetesSettings, MistakesAreRefusedNamingTheKey) {
    const std::vector<std::pair<json, std::string>> bad = {
        {{{"namespace", "Not_A_Name"}}, "plugins.kubernetes-backend.namespace"},
        {{{"instance", "-x"}}, "plugins.kubernetes-backend.instance"},
        {{{"egress", "all"}}, "plugins.kubernetes-backend.egress"},
        {{{"agent_uid", 5}, {"kernel_uid", 5}}, "plugins.kubernetes-backend.kernel_uid"},
        {{{"image_pull_policy", "Sometimes"}}, "plugins.kubernetes-backend.image_pull_policy"},
        {{{"node_selector", {{"pool", 3}}}}, "plugins.kubernetes-backend.node_selector.pool"},
        {{{"tolerations", {{{"key", "k"}, {"operater", "Exists"}}}}}, "plugins.kubernetes-backend.tolerations[0].operater"},
        {{{"tolerations", {{{"effect", "Sometimes"}}}}}, "plugins.kubernetes-backend.tolerations[0].effect"},
        {{{"start_timeout", 0}}, "plugins.kubernetes-backend.start_timeout"},
        {{{"share_sessions", true}, {"gateway_id", "-bad-"}}, "plugins.kubernetes-backend.gateway_id"},
        {{{"imag", "x"}}, "plugins.kubernetes-backend.imag"},
    };
    for (const auto& [table, key] : bad) {
        try {
            parse_backend_settings(context(table));
            ADD_FAILURE() << "accepted " << table.dump();
        } catch (const std::invalid_argument& e) {
            EXPECT_THAT(e.what(), HasSubstr(key)) << table.dump();
        }
    }
}

}  // namespace
}  // namespace ci::kube
