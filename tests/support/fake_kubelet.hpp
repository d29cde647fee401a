#pragma once
// The fake API server's kubelet (fake_kube_api.hpp): runs each created pod as real containers on
// the local dockerd, so that the agent, the kernel and the signed, encrypted protocol over TCP are
// the real ones. The pod's first container owns the pod's network namespace on a docker network of
// its own (internal: no route out), the others join it (--network container:); its emptyDirs and
// ephemeral volumes are host directories (sizes are not enforced: the fake's limit); securityContext
// becomes --user, --group-add (fsGroup), --read-only, --cap-drop ALL and no-new-privileges; limits
// become --cpus and --memory; env from a Secret is read from the fake API. It reports Running with
// the pod IP, waiting reasons (ErrImagePull when docker cannot start the image), and terminated
// containers with their exit code and OOMKilled, as a kubelet would.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "fake_kube_api.hpp"

namespace ci::test {

class FakeKubelet {
public:
    // name: scopes the docker network, containers and directories of this kubelet.
    explicit FakeKubelet(std::string name);
    ~FakeKubelet();  // removes every container, the network and the directories
    FakeKubelet(const FakeKubelet&) = delete;
    FakeKubelet& operator=(const FakeKubelet&) = delete;

    void attach(FakeKubeApi& api) { api_ = &api; }
    void pod_created(const nlohmann::json& pod);
    void pod_deleted(const nlohmann::json& pod);

    // The docker container name of a pod's container.
    std::string container_name(const std::string& pod, const std::string& container) const;
    // Containers this kubelet runs now (docker ps).
    int running_containers() const;

private:
    void work_loop();
    void start(const nlohmann::json& pod);
    void remove(const std::string& ns, const std::string& pod, const nlohmann::json& containers);
    void poll_statuses();
    nlohmann::json container_status(const std::string& pod, const nlohmann::json& container) const;

    const std::string name_;
    const std::string network_;
    const std::string dir_;
    FakeKubeApi* api_ = nullptr;
    std::mutex mu_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> work_;
    std::map<std::string, nlohmann::json> running_;  // "ns/name" -> pod (as created)
    bool stop_ = false;
    std::thread worker_;
};

}  // namespace ci::test
