// deploy/kubernetes/: every object valid against the official API schema, the gateway's config
// one the gateway accepts, and the pieces that must agree with each other and with the plugin
// (the Role and the calls the plugin makes, the ports, the names) agreeing.
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "backend_settings.hpp"
#include "config.hpp"
#include "kube_schema.hpp"

namespace ci {
namespace {

using nlohmann::json;

// A YAML node as JSON: quoted scalars stay strings; plain ones become null, booleans or numbers
// when they read as such (YAML 1.2's core schema, which Kubernetes follows).
json to_json(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map: {
            json out = json::object();
            for (const auto& item : node) out[item.first.as<std::string>()] = to_json(item.second);
            return out;
        }
        case YAML::NodeType::Sequence: {
            json out = json::array();
            for (const auto& item : node) out.push_back(to_json(item));
            return out;
        }
        case YAML::NodeType::Scalar: {
            const std::string text = node.Scalar();
            if (node.Tag() == "!") return text;
            if (text == "true" || text == "false") return text == "true";
            if (text == "null" || text == "~") return nullptr;
            const json number = json::parse(text, nullptr, false);
            return number.is_number() ? number : json(text);
        }
        default: return nullptr;
    }
}

std::vector<json> manifests() {
    std::vector<json> out;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(CI_SOURCE_DIR) + "/deploy/kubernetes"))
        if (entry.path().extension() == ".yaml")
            for (const YAML::Node& document : YAML::LoadAllFromFile(entry.path().string()))
                if (document.IsMap()) out.push_back(to_json(document));
    return out;
}

const json& find(const std::vector<json>& objects, const std::string& kind, const std::string& name) {
    for (const json& object : objects)
        if (object["kind"] == kind && object["metadata"]["name"] == name) return object;
    throw std::runtime_error("no " + kind + " " + name + " in deploy/kubernetes");
}

TEST(KubernetesDeploy, EveryManifestIsValidAgainstTheApiSchema) {
    const auto objects = manifests();
    ASSERT_GE(objects.size(), 9u);
    static const auto schema = test::KubeSchema::load();
    if (!schema) GTEST_SKIP() << "skipped: no Kubernetes API schema at " << test::KubeSchema::where_looked();
    for (const json& object : objects) {
        const std::string definition = schema->definition_of(object);
        ASSERT_FALSE(definition.empty()) << object["apiVersion"] << " " << object["kind"];
        for (const std::string& problem : schema->validate(object, definition))
            ADD_FAILURE() << object["kind"] << " " << object["metadata"]["name"] << ": " << problem;
    }
}

TEST(KubernetesDeploy, TheRoleAllowsExactlyWhatThePluginCalls) {
    // kubernetes_backend.cpp: pods are created, read, listed, watched and deleted; Secrets are
    // created, read (another gateway's worker key), listed (leftovers) and deleted; with
    // share_sessions, claims (ConfigMaps) are created, read, listed, updated and deleted. Nothing
    // else, nowhere else.
    const std::map<std::string, std::set<std::string>> calls = {
        {"pods", {"create", "get", "list", "watch", "delete"}},
        {"secrets", {"create", "get", "list", "delete"}},
        {"configmaps", {"create", "get", "list", "update", "delete"}},
    };
    const auto objects = manifests();
    const json& role = find(objects, "Role", "code-interpreter-gateway");
    std::map<std::string, std::set<std::string>> allowed;
    for (const json& rule : role["rules"]) {
        EXPECT_EQ(rule["apiGroups"], json::array({""}));
        for (const json& resource : rule["resources"])
            for (const json& verb : rule["verbs"]) allowed[resource].insert(verb);
    }
    EXPECT_EQ(allowed, calls);
    const json& binding = find(objects, "RoleBinding", "code-interpreter-gateway");
    EXPECT_EQ(binding["subjects"][0]["name"], "code-interpreter-gateway");
    const json& deployment = find(objects, "Deployment", "code-interpreter-gateway");
    EXPECT_EQ(deployment["spec"]["template"]["spec"]["serviceAccountName"], "code-interpreter-gateway");
}

TEST(KubernetesDeploy, TheGatewaysConfigIsOneTheGatewayAcceptsAndMatchesItsPod) {
    const auto objects = manifests();
    const json& config_map = find(objects, "ConfigMap", "code-interpreter-config");
    const GatewayConfig config = parse_config(config_map["data"]["config.toml"].get<std::string>(), "/etc/code-interpreter");
    const json& pod = find(objects, "Deployment", "code-interpreter-gateway")["spec"]["template"]["spec"];
    EXPECT_EQ(pod["containers"][0]["ports"][0]["containerPort"], config.server.port);
    std::set<std::string> plugin_paths;
    for (const auto& plugin : config.plugins) plugin_paths.insert(plugin.path);
    // The image installs its plugins there (docker/gateway/Dockerfile).
    EXPECT_TRUE(plugin_paths.count("/usr/lib/code-interpreter/plugins/libci_kubernetes_backend.so"));
    EXPECT_TRUE(plugin_paths.count("/usr/lib/code-interpreter/plugins/libci_auth_token.so"));
    // Several replicas need the shared directory of sessions.
    const json& deployment = find(objects, "Deployment", "code-interpreter-gateway");
    for (const auto& plugin : config.plugins)
        if (plugin.name == "kubernetes-backend" && deployment["spec"]["replicas"].get<int>() > 1)
            EXPECT_EQ(plugin.settings.value("share_sessions", false), true);
    // The workers' policy opens the port the plugin's agents listen on.
    const json& workers = find(objects, "NetworkPolicy", "code-interpreter-workers");
    EXPECT_EQ(workers["spec"]["ingress"][0]["ports"][0]["port"], kube::BackendSettings{}.agent_port);
    EXPECT_EQ(workers["spec"]["egress"], json::array());
}

}  // namespace
}  // namespace ci
