#include "pod_manifest.hpp"

#include <cstdint>
#include <cstdio>

namespace ci::kube {
namespace {

using nlohmann::json;

constexpr const char* kAgentBinary = "/usr/local/bin/ci-agent";
constexpr const char* kLinkDir = "/run/ci-pod";
constexpr const char* kLinkSocket = "/run/ci-pod/link.sock";
constexpr const char* kKernelDir = "/run/ci-pod/kernel";
constexpr const char* kWorkspace = "/sandbox";
constexpr const char* kKeyVariable = "CI_AGENT_KEY";

std::string mebibytes(std::uint64_t mb) { return std::to_string(mb) + "Mi"; }

std::string millicpus(double cpus) {
    const auto millis = static_cast<std::uint64_t>(cpus * 1000.0 + 0.5);
    return std::to_string(millis < 1 ? 1 : millis) + "m";
}

json labels(const BackendSettings& settings, const std::string& worker_id) {
    json out = {{kLabelManaged, "true"},
                {kLabelInstance, settings.instance},
                {kLabelWorkerId, worker_id},
                {kLabelEgress, settings.egress},
                {"app.kubernetes.io/name", "code-interpreter-worker"},
                {"app.kubernetes.io/managed-by", "code-interpreter"}};
    if (settings.share_sessions) out[kLabelGateway] = settings.gateway_id;
    return out;
}

json metadata(const BackendSettings& settings, const std::string& namespace_, const std::string& worker_id) {
    return {{"name", worker_object_name(worker_id)},
            {"namespace", namespace_},
            {"labels", labels(settings, worker_id)},
            {"annotations", {{kAnnotationTemplate, template_fingerprint(settings)}}}};
}

// What both containers share: no privileges at all, the image's read-only root.
json locked_down(std::uint32_t uid) {
    return {{"runAsUser", uid},
            {"runAsGroup", uid},
            {"runAsNonRoot", true},
            {"allowPrivilegeEscalation", false},
            {"privileged", false},
            {"readOnlyRootFilesystem", true},
            {"capabilities", {{"drop", json::array({"ALL"})}}}};
}

json equal_resources(const std::string& cpu, const std::string& memory, std::uint64_t storage_mb) {
    const json amounts = {{"cpu", cpu}, {"memory", memory}, {"ephemeral-storage", mebibytes(storage_mb)}};
    return {{"requests", amounts}, {"limits", amounts}};
}

json workspace_volume(const BackendSettings& settings, const plugin::WorkerSpec& spec) {
    if (settings.storage_class.empty())
        return {{"name", "workspace"}, {"emptyDir", {{"sizeLimit", mebibytes(spec.workspace_mb)}}}};
    return {{"name", "workspace"},
            {"ephemeral",
             {{"volumeClaimTemplate",
               {{"metadata", {{"labels", labels(settings, spec.worker_id)}}},
                {"spec",
                 {{"accessModes", json::array({"ReadWriteOnce"})},
                  {"storageClassName", settings.storage_class},
                  {"resources", {{"requests", {{"storage", mebibytes(spec.workspace_mb)}}}}}}}}}}}};
}

std::uint64_t fnv1a(const std::string& text) {
    std::uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    return hash;
}

}  // namespace

std::string worker_object_name(const std::string& worker_id) { return "ci-worker-" + worker_id; }

std::string instance_selector(const BackendSettings& settings) {
    return std::string(kLabelManaged) + "=true," + kLabelInstance + "=" + settings.instance;
}

std::string template_fingerprint(const BackendSettings& settings) {
    const json shape = {settings.image,         settings.image_pull_policy, settings.agent_port,
                        settings.agent_uid,     settings.kernel_uid,        settings.runtime_class,
                        settings.node_selector, settings.tolerations,       settings.storage_class,
                        settings.egress,        settings.ephemeral_storage_mb, settings.agent_cpu_millis,
                        settings.agent_memory_mb};
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(fnv1a(shape.dump())));
    return text;
}

json worker_secret(const BackendSettings& settings, const std::string& namespace_,
                   const plugin::WorkerSpec& spec) {
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", metadata(settings, namespace_, spec.worker_id)},
            {"type", "Opaque"},
            {"immutable", true},
            {"stringData", {{kSecretKeyField, spec.agent_key}}}};
}

json worker_pod(const BackendSettings& settings, const std::string& namespace_, const plugin::WorkerSpec& spec) {
    const std::string name = worker_object_name(spec.worker_id);
    const json link_mount = {{"name", "link"}, {"mountPath", kLinkDir}};
    json agent = {
        {"name", "agent"},
        {"image", settings.image},
        {"imagePullPolicy", settings.image_pull_policy},
        {"command",
         {kAgentBinary, "--role", "agent", "--kernel-link", kLinkSocket, "--kernel-dir", kKernelDir, "--listen",
          "tcp://0.0.0.0:" + std::to_string(settings.agent_port), "--firewall", "cluster", "--key-env", kKeyVariable}},
        {"env", {{{"name", kKeyVariable}, {"valueFrom", {{"secretKeyRef", {{"name", name}, {"key", kSecretKeyField}}}}}}}},
        {"ports", {{{"name", "agent"}, {"containerPort", settings.agent_port}, {"protocol", "TCP"}}}},
        {"securityContext", locked_down(settings.agent_uid)},
        {"resources", equal_resources(std::to_string(settings.agent_cpu_millis) + "m",
                                      mebibytes(settings.agent_memory_mb), settings.ephemeral_storage_mb)},
        {"volumeMounts", {link_mount}},
        {"terminationMessagePolicy", "FallbackToLogsOnError"},
    };
    json kernel_command = {kAgentBinary, "--role", "kernel", "--kernel-link", kLinkSocket, "--kernel-dir", kKernelDir,
                           "--workdir", kWorkspace};
    if (!spec.preload_modules.empty()) {
        kernel_command.push_back("--preload");
        kernel_command.push_back(plugin::preload_argument(spec.preload_modules));
    }
    json kernel = {
        {"name", "kernel"},
        {"image", settings.image},
        {"imagePullPolicy", settings.image_pull_policy},
        {"command", kernel_command},
        {"securityContext", locked_down(settings.kernel_uid)},
        {"resources", equal_resources(millicpus(spec.limits.cpus), mebibytes(spec.limits.memory_mb),
                                      settings.ephemeral_storage_mb)},
        {"volumeMounts",
         {link_mount, {{"name", "workspace"}, {"mountPath", kWorkspace}}, {{"name", "tmp"}, {"mountPath", "/tmp"}}}},
        {"terminationMessagePolicy", "FallbackToLogsOnError"},
    };
    json pod_spec = {
        {"restartPolicy", "Never"},
        {"automountServiceAccountToken", false},
        {"enableServiceLinks", false},
        {"hostNetwork", false},
        {"hostPID", false},
        {"hostIPC", false},
        {"shareProcessNamespace", false},
        {"terminationGracePeriodSeconds", 2},
        {"securityContext",
         {{"runAsNonRoot", true},
          {"fsGroup", settings.kernel_uid},
          {"fsGroupChangePolicy", "OnRootMismatch"},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
        {"containers", {agent, kernel}},
        {"volumes",
         {{{"name", "link"}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "1Mi"}}}},
          {{"name", "tmp"}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", mebibytes(spec.limits.tmp_mb)}}}},
          workspace_volume(settings, spec)}},
    };
    if (!settings.runtime_class.empty()) pod_spec["runtimeClassName"] = settings.runtime_class;
    if (!settings.node_selector.empty()) pod_spec["nodeSelector"] = settings.node_selector;
    if (!settings.tolerations.empty()) pod_spec["tolerations"] = settings.tolerations;
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", metadata(settings, namespace_, spec.worker_id)},
            {"spec", pod_spec}};
}

std::string claim_object_name(const std::string& session) { return "ci-session-" + session; }

json session_claim(const BackendSettings& settings, const std::string& namespace_, const std::string& session,
                   const std::string& worker_id, std::int64_t renewed_unix_ms) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata",
             {{"name", claim_object_name(session)},
              {"namespace", namespace_},
              {"labels", {{kLabelManaged, "true"}, {kLabelInstance, settings.instance}, {kLabelWorkerId, worker_id}}}}},
            {"data",
             {{"worker", worker_id}, {"gateway", settings.gateway_id}, {"renewed", std::to_string(renewed_unix_ms)}}}};
}

std::string own_selector(const BackendSettings& settings) {
    return instance_selector(settings) +
           (settings.share_sessions ? std::string(",") + kLabelGateway + "=" + settings.gateway_id : std::string());
}

json delete_options() {
    return {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"gracePeriodSeconds", 0},
            {"propagationPolicy", "Background"}};
}

}  // namespace ci::kube
