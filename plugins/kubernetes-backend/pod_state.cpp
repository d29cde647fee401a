#include "pod_state.hpp"

#include <algorithm>
#include <initializer_list>
#include <string_view>

namespace ci::kube {

using nlohmann::json;

namespace {

// j[key] when j is an object holding key with a value of the wanted kind, else null.
const json& field(const json& j, const char* key) {
    static const json null;
    if (!j.is_object()) return null;
    const auto it = j.find(key);
    return it == j.end() ? null : *it;
}

std::string text(const json& j, const char* key) {
    const json& value = field(j, key);
    return value.is_string() ? value.get<std::string>() : std::string();
}

bool one_of(const std::string& value, std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), value) != names.end();
}

std::string reason_and_message(const json& j) {
    std::string reason = text(j, "reason"), message = text(j, "message");
    if (message.empty()) return reason;
    return reason.empty() ? message : reason + ": " + message;
}

}  // namespace

PodState pod_state(const json& pod) {
    PodState out;
    const json& status = field(pod, "status");
    out.pod_ip = text(status, "podIP");
    const std::string phase = text(status, "phase");

    if (!text(field(pod, "metadata"), "deletionTimestamp").empty()) {
        out.condition = PodCondition::deleting;
        out.detail = "the pod is being deleted";
        return out;
    }
    if (text(status, "reason") == "Evicted") {
        out.condition = PodCondition::evicted;
        out.detail = reason_and_message(status);
        return out;
    }

    const json& containers = field(status, "containerStatuses");
    bool all_ready = containers.is_array() && !containers.empty();
    bool running = false;
    for (const json& container : containers.is_array() ? containers : json::array()) {
        if (!field(container, "ready").is_boolean() || !field(container, "ready").get<bool>()) all_ready = false;
        const json& state = field(container, "state");
        const json& terminated = field(state, "terminated");
        if (terminated.is_object()) {
            const json& code = field(terminated, "exitCode");
            out.exit_code = code.is_number_integer() ? code.get<int>() : 0;
            out.detail = reason_and_message(terminated);
            out.condition = text(terminated, "reason") == "OOMKilled" ? PodCondition::oom_killed : PodCondition::exited;
            return out;
        }
        const json& waiting = field(state, "waiting");
        if (waiting.is_object()) {
            const std::string reason = text(waiting, "reason");
            if (one_of(reason, {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})) {
                out.condition = PodCondition::image_unavailable;
                out.detail = reason_and_message(waiting);
                return out;
            }
            if (one_of(reason, {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})) {
                out.condition = PodCondition::misconfigured;
                out.detail = reason_and_message(waiting);
                return out;
            }
        }
        if (field(state, "running").is_object()) running = true;
    }
    out.ready = all_ready;

    if (phase == "Pending") {
        for (const json& condition : field(status, "conditions").is_array() ? field(status, "conditions") : json::array()) {
            if (text(condition, "type") == "PodScheduled" && text(condition, "status") == "False" &&
                text(condition, "reason") == "Unschedulable") {
                out.condition = PodCondition::unschedulable;
                out.detail = reason_and_message(condition);
                return out;
            }
        }
        out.condition = PodCondition::pending;
        out.detail = "pending";
        return out;
    }
    if (phase == "Running") {
        out.condition = running ? PodCondition::running : PodCondition::pending;
        out.detail = running ? "running" : "running, its container not yet";
        return out;
    }
    if (phase == "Succeeded" || phase == "Failed") {
        out.condition = PodCondition::exited;
        out.detail = reason_and_message(status);
        if (out.detail.empty()) out.detail = "the pod " + phase;
        return out;
    }
    if (phase == "Unknown") {
        out.condition = PodCondition::lost;
        out.detail = "its node stopped reporting the pod";
        return out;
    }
    out.condition = PodCondition::pending;
    out.detail = phase.empty() ? "no status yet" : "phase " + phase;
    return out;
}

const char* condition_name(PodCondition condition) {
    switch (condition) {
        case PodCondition::pending: return "pending";
        case PodCondition::unschedulable: return "unschedulable";
        case PodCondition::image_unavailable: return "image_unavailable";
        case PodCondition::misconfigured: return "misconfigured";
        case PodCondition::running: return "running";
        case PodCondition::oom_killed: return "oom_killed";
        case PodCondition::evicted: return "evicted";
        case PodCondition::exited: return "exited";
        case PodCondition::deleting: return "deleting";
        case PodCondition::lost: return "lost";
    }
    return "unknown";
}

plugin::WorkerStatus worker_status(const PodState& state) {
    plugin::WorkerStatus out;
    out.detail = std::string(condition_name(state.condition)) + (state.detail.empty() ? "" : ": " + state.detail);
    out.exit_code = state.exit_code;
    switch (state.condition) {
        case PodCondition::pending:
        case PodCondition::running: out.state = plugin::WorkerState::running; break;
        case PodCondition::oom_killed: out.state = plugin::WorkerState::oom_killed; break;
        case PodCondition::deleting:
        case PodCondition::lost: out.state = plugin::WorkerState::missing; break;
        case PodCondition::unschedulable:
        case PodCondition::image_unavailable:
        case PodCondition::misconfigured:
        case PodCondition::evicted:
        case PodCondition::exited: out.state = plugin::WorkerState::exited; break;
    }
    return out;
}

}  // namespace ci::kube
