#pragma once
// What a pod object (core/v1 Pod, as get, list and watch return it) says of its worker, and how
// that maps onto the plugin SDK's worker states.
#include <string>

#include <nlohmann/json.hpp>

#include "code_interpreter/plugin/isolation_backend.hpp"

namespace ci::kube {

enum class PodCondition {
    pending,            // accepted, not running yet (scheduling, pulling, creating)
    unschedulable,      // no node can take it (PodScheduled=False, reason Unschedulable)
    image_unavailable,  // ErrImagePull, ImagePullBackOff, InvalidImageName
    misconfigured,      // CreateContainerConfigError, CreateContainerError, RunContainerError
    running,            // its container runs (the agent may still be starting)
    oom_killed,         // its container was killed at the memory limit
    evicted,            // the node evicted it (disk or memory pressure, an emptyDir over its size)
    exited,             // its container ended otherwise (or the pod failed or succeeded)
    deleting,           // deletion was asked for (deletionTimestamp set)
    lost,               // phase Unknown: the node stopped reporting
};

struct PodState {
    PodCondition condition = PodCondition::pending;
    std::string detail;   // Kubernetes' reason and message, for logs and error bodies
    int exit_code = 0;    // of an ended container
    std::string pod_ip;   // status.podIP once assigned
    bool ready = false;   // every container reports ready
};

// Reads what it needs and ignores the rest; missing or mistyped fields read as absent.
PodState pod_state(const nlohmann::json& pod);

const char* condition_name(PodCondition condition);

// The SDK's view: a worker whose pod can never run (unschedulable, no image, misconfigured) has
// exited, with the reason in the detail, so the core destroys it and says why.
plugin::WorkerStatus worker_status(const PodState& state);

}  // namespace ci::kube
