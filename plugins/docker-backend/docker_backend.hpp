#pragma once
// DockerBackend: one worker = one locked-down container running the agent image, plus a host dir
// (<run_dir>/<instance>/<worker_id>, bound at /run/ci) holding the agent's key and, in network mode
// none, its ipc socket. In the networked modes (internal, internet) the containers join this
// instance's bridge network and the agent listens on tcp://<container ip>:5555 behind the firewall
// it installs itself (only the bridge's host address may connect).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend_config.hpp"
#include "code_interpreter/plugin/context.hpp"
#include "cpu_weight.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "docker_client.hpp"

namespace ci::docker {

using Logger = std::function<void(ci::plugin::LogLevel, const std::string&)>;

class DockerBackend final : public ci::plugin::IsolationBackend {
public:
    DockerBackend(BackendConfig config, Logger log, DockerClientOptions client_options = {});
    // Removes the workers' network (networked modes) when no container is attached to it any more.
    ~DockerBackend() override;
    DockerBackend(const DockerBackend&) = delete;
    DockerBackend& operator=(const DockerBackend&) = delete;

    // Start-up checks for the factory; throw std::runtime_error with a clear message: no configured
    // id belongs to a host account, the daemon answers GET /_ping, the image exists and was built
    // with the configured ids, per-worker dirs can be mounted under run_dir/instance and chowned.
    void check_startup();
    // Unmounts and removes per-worker dirs under <run_dir>/<instance> that have no container (left
    // by a run that died between making the dir and the container, or that lost its containers).
    // Returns how many were removed.
    std::size_t remove_orphan_dirs();
    // For the factory, after check_startup. Networked modes: finds this instance's network and
    // reuses it when it matches the configuration, else (after removing this instance's leftover
    // workers, if any are attached) replaces it; creates it when missing. Every mode: removes this
    // instance's other, unused networks (left by a run in another mode). Throws std::runtime_error.
    void prepare_network();
    // The id of the workers' network once prepare_network made or found it; "" in mode none.
    const std::string& network_id() const { return network_id_; }

    ci::plugin::Result<ci::plugin::WorkerHandle> create_worker(const ci::plugin::WorkerSpec& spec) override;
    ci::plugin::Status destroy_worker(const std::string& worker_id) override;
    ci::plugin::Result<std::vector<ci::plugin::WorkerHandle>> list_workers() override;
    ci::plugin::Result<ci::plugin::WorkerStatus> inspect_worker(const std::string& worker_id) override;
    ci::plugin::Status worker_leased(const ci::plugin::WorkerHandle& worker) override;

    const BackendConfig& config() const { return config_; }

private:
    ci::plugin::Result<ci::plugin::WorkerHandle> create_worker_unchecked(const ci::plugin::WorkerSpec& spec);
    ci::plugin::Status destroy_worker_unchecked(const std::string& worker_id);
    // DELETE ?force=true&v=true; 404 counts as success; waits out a removal already in progress.
    ci::plugin::Status remove_container(const std::string& worker_id);
    void log(ci::plugin::LogLevel level, const std::string& message) const;
    // GET /networks/<id>: the answer's JSON, or null when the network is gone. Throws on failure.
    nlohmann::json inspect_network(const std::string& id) const;
    // DELETE /networks/<id>; 404 counts as success. Throws with Docker's message on failure.
    void remove_network(const std::string& id, const std::string& name) const;
    // Destroys every worker list_workers() finds (all are leftovers at start-up). Throws.
    void destroy_leftover_workers(const std::string& why);

    BackendConfig config_;
    Logger log_;
    DockerClient client_;
    bool apparmor_;           // the host has AppArmor on (found once, at construction)
    // Where workers' CPU weights are set (found once, at construction); without it refills are
    // made at the normal weight.
    std::optional<CpuController> cpu_;
    std::string network_id_;  // set once by prepare_network, read-only afterwards
};

}  // namespace ci::docker
