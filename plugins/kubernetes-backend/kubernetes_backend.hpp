#pragma once
// Workers as Kubernetes pods (pod_manifest.hpp): created through the API, followed by one watch
// on this instance's pods (list, then watch from the list's resourceVersion with bookmarks; a
// list again when the version expired; reconnection with back-off), removed with their Secret.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_client.hpp"
#include "backend_settings.hpp"
#include "code_interpreter/plugin/context.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "pod_set.hpp"

namespace ci::kube {

class KubernetesBackend final : public plugin::IsolationBackend {
public:
    using Log = std::function<void(plugin::LogLevel, const std::string&)>;

    KubernetesBackend(BackendSettings settings, ClusterAccess access, Log log);
    ~KubernetesBackend() override;

    // Checks that the API answers and lets this service account list pods, then starts the
    // watch. Throws std::runtime_error saying what is wrong (for the plugin's factory).
    void start();

    plugin::Result<plugin::WorkerHandle> create_worker(const plugin::WorkerSpec& spec) override;
    plugin::Status destroy_worker(const std::string& worker_id) override;
    plugin::Result<std::vector<plugin::WorkerHandle>> list_workers() override;
    plugin::Result<plugin::WorkerStatus> inspect_worker(const std::string& worker_id) override;

    // share_sessions: claims are ConfigMaps "ci-session-<session>" naming the worker and when a
    // gateway last renewed them; the agent key is read from the worker's Secret.
    bool shares_sessions() const override { return settings_.share_sessions; }
    plugin::Result<std::optional<plugin::SessionClaim>> find_session(const std::string& session) override;
    plugin::Status claim_session(const std::string& session, const std::string& worker_id) override;
    plugin::Status renew_session(const std::string& session) override;
    plugin::Result<int> remove_idle_sessions(std::int64_t renewed_before_unix_ms) override;

private:
    void watch_loop();
    // One list and the watches that follow it, until a relist is needed, the stream fails or
    // the backend stops. Returns what failed ("" when it was asked to stop or to list again).
    std::string list_and_watch();
    // The pod as the watch last saw it; nullopt when the watch is not in step (then ask the API).
    std::optional<std::optional<nlohmann::json>> watched(const std::string& name);
    plugin::Result<std::optional<nlohmann::json>> get_pod(const std::string& name);
    // A collection by label selector ("pods", "secrets", "configmaps"): the list, or why not.
    plugin::Result<nlohmann::json> list(const char* resource, const std::string& selector);
    std::string endpoint_of(const std::string& pod_ip) const;

    const BackendSettings settings_;
    const ApiClient api_;
    const Log log_;
    std::mutex mu_;
    std::condition_variable changed_;
    PodSet pods_;
    bool in_step_ = false;  // pods_ follows the API: a list and an unbroken watch since
    std::atomic<bool> stop_{false};
    std::thread watcher_;
};

}  // namespace ci::kube
