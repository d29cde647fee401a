// What the Kubernetes backend reads from pod objects in the API's shape (tests/unit/kubernetes_pods:
// the states a worker's pod goes through, the status fields as the API server and the kubelet
// write them), and how each maps onto the SDK's worker states.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pod_state.hpp"

namespace ci::kube {
namespace {

using nlohmann::json;

json pod(const std::string& name) {
    std::ifstream in(std::string(CI_SOURCE_DIR) + "/tests/unit/kubernetes_pods/" + name + ".json");
    std::stringstream text;
    text << in.rdbuf();
    json parsed = json::parse(text.str(), nullptr, false);
    EXPECT_TRUE(parsed.is_object()) << name;
    return parsed;
}

TEST(KubernetesPodState, PendingWhileItsContainerIsCreated) {
    const PodState state = pod_state(pod("pending"));
    EXPECT_EQ(state.condition, PodCondition::pending);
    EXPECT_TRUE(state.pod_ip.empty());
    EXPECT_EQ(worker_status(state).state, plugin::WorkerState::running) << "still starting: the core waits for its agent";
}

TEST(KubernetesPodState, RunningWithItsAddressAndReadiness) {
    const PodState state = pod_state(pod("running"));
    EXPECT_EQ(state.condition, PodCondition::running);
    EXPECT_EQ(state.pod_ip, "10.244.1.37");
    EXPECT_TRUE(state.ready);
    EXPECT_EQ(worker_status(state).state, plugin::WorkerState::running);
}

TEST(KubernetesPodState, OomKilledIsTheSdksOomState) {
    const PodState state = pod_state(pod("oom_killed"));
    EXPECT_EQ(state.condition, PodCondition::oom_killed);
    EXPECT_EQ(state.exit_code, 137);
    const auto status = worker_status(state);
    EXPECT_EQ(status.state, plugin::WorkerState::oom_killed);
    EXPECT_EQ(status.exit_code, 137);
}

TEST(KubernetesPodState, EvictionSaysWhyEvenThoughTheContainerEndedAsAnError) {
    const PodState state = pod_state(pod("evicted"));
    EXPECT_EQ(state.condition, PodCondition::evicted);
    EXPECT_NE(state.detail.find("EmptyDir volume \"workspace\" exceeds"), std::string::npos) << state.detail;
    const auto status = worker_status(state);
    EXPECT_EQ(status.state, plugin::WorkerState::exited);
    EXPECT_EQ(status.detail.rfind("evicted: Evicted: ", 0), 0u) << status.detail;
}

TEST(KubernetesPodState, AnImageThatCannotBePulledEndsTheWorker) {
    const PodState state = pod_state(pod("image_pull_backoff"));
    EXPECT_EQ(state.condition, PodCondition::image_unavailable);
    EXPECT_NE(state.detail.find("ImagePullBackOff: Back-off pulling image"), std::string::npos) << state.detail;
    EXPECT_EQ(worker_status(state).state, plugin::WorkerState::exited);
}

TEST(KubernetesPodState, UnschedulableCarriesTheSchedulersMessage) {
    const PodState state = pod_state(pod("unschedulable"));
    EXPECT_EQ(state.condition, PodCondition::unschedulable);
    EXPECT_NE(state.detail.find("3 Insufficient memory"), std::string::npos) << state.detail;
    EXPECT_EQ(worker_status(state).state, plugin::WorkerState::exited);
}

TEST(KubernetesPodState, APodBeingDeletedIsNoLongerAWorkerEvenWhileItRuns) {
    const PodState state = pod_state(pod("deleting"));
    EXPECT_EQ(state.condition, PodCondition::deleting);
    EXPECT_EQ(worker_status(state).state, plugin::WorkerState::missing);
}

TEST(KubernetesPodState, OtherEndsAndStrangeObjects) {
    json failed = pod("running");
    failed["status"]["phase"] = "Failed";
    failed["status"]["containerStatuses"][0]["state"] = {{"terminated", {{"exitCode", 1}, {"reason", "Error"}}}};
    EXPECT_EQ(pod_state(failed).condition, PodCondition::exited);
    EXPECT_EQ(pod_state(failed).exit_code, 1);

    json config_error = pod("pending");
    config_error["status"]["containerStatuses"][0]["state"] = {
        {"waiting", {{"reason", "CreateContainerConfigError"}, {"message", "secret \"ci-worker-key\" not found"}}}};
    EXPECT_EQ(pod_state(config_error).condition, PodCondition::misconfigured);

    json unknown = pod("running");
    unknown["status"]["phase"] = "Unknown";
    unknown["status"].erase("containerStatuses");
    EXPECT_EQ(pod_state(unknown).condition, PodCondition::lost);

    // Fields of the wrong type read as absent: no exception.
    EXPECT_EQ(pod_state(json{{"status", {{"phase", 5}, {"containerStatuses", "x"}}}}).condition, PodCondition::pending);
    EXPECT_EQ(pod_state(json::array()).condition, PodCondition::pending);
    EXPECT_EQ(pod_state(json{{"metadata", {{"deletionTimestamp", 3}}}, {"status", {{"phase", "Running"}}}}).condition,
              PodCondition::pending);
}

}  // namespace
}  // namespace ci::kube
