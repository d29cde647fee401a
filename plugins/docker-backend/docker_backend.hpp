#pragma once
// DockerBackend: one worker = one locked-down container running the agent image, plus a host dir
// (<run_dir>/<instance>/<worker_id>, bound at /run/ci) holding the agent's key and ipc socket.
#include <functional>
#include <string>
#include <vector>

#include "backend_config.hpp"
#include "code_interpreter/plugin/context.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "docker_client.hpp"

namespace ci::docker {

using Logger = std::function<void(ci::plugin::LogLevel, const std::string&)>;

class DockerBackend final : public ci::plugin::IsolationBackend {
public:
    DockerBackend(BackendConfig config, Logger log, DockerClientOptions client_options = {});

    // Start-up checks for the factory; throw std::runtime_error with a clear message:
    // the daemon answers GET /_ping, the image exists, run_dir/instance can be made and chowned.
    void check_startup();
    // Removes per-worker dirs under <run_dir>/<instance> that have no container (left by a run that
    // died between making the dir and the container). Returns how many were removed.
    std::size_t remove_orphan_dirs();

    ci::plugin::Result<ci::plugin::WorkerHandle> create_worker(const ci::plugin::WorkerSpec& spec) override;
    ci::plugin::Status destroy_worker(const std::string& worker_id) override;
    ci::plugin::Result<std::vector<ci::plugin::WorkerHandle>> list_workers() override;
    ci::plugin::Result<ci::plugin::WorkerStatus> inspect_worker(const std::string& worker_id) override;

    const BackendConfig& config() const { return config_; }

private:
    ci::plugin::Result<ci::plugin::WorkerHandle> create_worker_unchecked(const ci::plugin::WorkerSpec& spec);
    ci::plugin::Status destroy_worker_unchecked(const std::string& worker_id);
    // DELETE ?force=true&v=true; 404 counts as success; waits out a removal already in progress.
    ci::plugin::Status remove_container(const std::string& worker_id);
    void log(ci::plugin::LogLevel level, const std::string& message) const;

    BackendConfig config_;
    Logger log_;
    DockerClient client_;
};

}  // namespace ci::docker
