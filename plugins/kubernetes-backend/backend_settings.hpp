#pragma once
// The [plugins.<name>] table of a gateway that runs its workers as Kubernetes pods, checked.
#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cluster_access.hpp"
#include "code_interpreter/plugin/context.hpp"

namespace ci::kube {

// The worker image's users (docker/Dockerfile; uid = gid). Pods name them by number: a kubelet
// can verify runAsNonRoot only for a numeric user.
inline constexpr std::uint32_t kImageAgentId = 2100000990;   // ci-agent
inline constexpr std::uint32_t kImageKernelId = 2100001000;  // sandbox

struct BackendSettings {
    ExplicitAccess access;  // api_url, token_file, ca_file, namespace; empty: the service account's
    std::string image = "code-interpreter-worker:latest";
    std::string image_pull_policy = "IfNotPresent";  // Always, IfNotPresent or Never
    std::string instance = "default";  // label value that scopes this gateway's pods
    std::uint16_t agent_port = 7000;
    std::uint32_t agent_uid = kImageAgentId;
    std::uint32_t kernel_uid = kImageKernelId;  // also the pod's fsGroup: the agent joins it
    std::string runtime_class;  // runtimeClassName (gVisor, Kata...); empty: the cluster's default
    nlohmann::json node_selector = nlohmann::json::object();  // label -> value
    nlohmann::json tolerations = nlohmann::json::array();     // core/v1 Toleration objects
    // The workspace: a generic ephemeral volume (a claim of this storage class that lives and dies
    // with the pod: a real file system of workspace_mb, full means ENOSPC); empty: an emptyDir with
    // sizeLimit, where the kubelet evicts the pod when it is over.
    std::string storage_class;
    // Which NetworkPolicy applies (the pods' code-interpreter/egress label): none or internet.
    std::string egress = "none";
    std::uint64_t ephemeral_storage_mb = 256;  // per container: its writable layer and logs
    std::uint32_t agent_cpu_millis = 100;      // the agent container's cpu (requests = limits)
    std::uint64_t agent_memory_mb = 64;
    std::chrono::milliseconds start_timeout = std::chrono::seconds(120);  // pod created -> running
    // Several gateways, one set of sessions: each session's worker and key are found through a
    // claim (a ConfigMap) that every gateway of the instance reads; each gateway lists and cleans
    // up only the pods it made, labelled with its gateway_id (default: $HOSTNAME, the pod's name).
    bool share_sessions = false;
    std::string gateway_id;
};

// Throws std::invalid_argument naming the key ("plugins.<name>.<key>: ..."). host_name stands for
// $HOSTNAME, gateway_id's default.
BackendSettings parse_backend_settings(const plugin::PluginContext& context, const std::string& host_name = "");

}  // namespace ci::kube
