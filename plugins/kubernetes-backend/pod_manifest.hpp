#pragma once
// The objects the backend sends the API server for one worker: its Secret (the agent key) and its
// Pod, two containers as two users with no privileges, and the options of its deletion.
//
// The pod's containers, both from the worker image, with the root file system read-only, all
// capabilities dropped, no privilege escalation, the runtime's default seccomp profile:
//   agent   as agent_uid: serves the gateway on TCP (CurveZMQ, signed messages); holds the key,
//           from the Secret through its environment (the kernel's container never sees it);
//   kernel  as kernel_uid: the supervisor, the file server and ipykernel, with the workspace and
//           the worker's cpu and memory (requests = limits) and a private in-memory /tmp.
// They meet on an in-memory volume (the kernel link and the kernel's ipc sockets); the pod's
// fsGroup is the kernel's group, which lets the agent in and gives the kernel its workspace.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "backend_settings.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"

namespace ci::kube {

inline constexpr const char* kLabelManaged = "code-interpreter/managed";
inline constexpr const char* kLabelInstance = "code-interpreter/instance";
inline constexpr const char* kLabelWorkerId = "code-interpreter/worker-id";
inline constexpr const char* kLabelEgress = "code-interpreter/egress";
inline constexpr const char* kLabelGateway = "code-interpreter/gateway";  // share_sessions: who made it
// The fingerprint of the settings a pod was made from: a pod of other settings is stale.
inline constexpr const char* kAnnotationTemplate = "code-interpreter/template";
inline constexpr const char* kSecretKeyField = "agent-key";

// "ci-worker-<worker id>", the name of both the pod and its Secret.
std::string worker_object_name(const std::string& worker_id);

// "code-interpreter/managed=true,code-interpreter/instance=<instance>", for list and watch.
std::string instance_selector(const BackendSettings& settings);

// A short, stable hash of everything in settings that shapes a pod.
std::string template_fingerprint(const BackendSettings& settings);

nlohmann::json worker_secret(const BackendSettings& settings, const std::string& namespace_,
                             const plugin::WorkerSpec& spec);
nlohmann::json worker_pod(const BackendSettings& settings, const std::string& namespace_,
                          const plugin::WorkerSpec& spec);
// At once (grace period 0): a worker's removal never waits for its user's code.
nlohmann::json delete_options();

// share_sessions: the claim of session (64 hex characters) on worker_id, renewed now (Unix ms).
std::string claim_object_name(const std::string& session);
nlohmann::json session_claim(const BackendSettings& settings, const std::string& namespace_,
                             const std::string& session, const std::string& worker_id, std::int64_t renewed_unix_ms);
// What selects the workers this gateway made (with share_sessions, only its own).
std::string own_selector(const BackendSettings& settings);

}  // namespace ci::kube
