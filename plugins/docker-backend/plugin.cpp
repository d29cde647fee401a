// The docker-backend plugin's exported entry points (see code_interpreter/plugin/abi.hpp).
#include <memory>
#include <stdexcept>

#include "backend_config.hpp"
#include "code_interpreter/plugin/abi.hpp"
#include "code_interpreter/plugin/export.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "docker_backend.hpp"

#ifndef CI_DOCKER_BACKEND_VERSION
#define CI_DOCKER_BACKEND_VERSION "0.1.0"
#endif

namespace {

ci::plugin::PluginInfo docker_backend_info() {
    return ci::plugin::PluginInfo{ci::plugin::kAbiVersion, ci::plugin::PluginKind::isolation, "docker-backend",
                                  CI_DOCKER_BACKEND_VERSION};
}

// May throw (the only entry point allowed to): invalid configuration (std::invalid_argument naming
// the key) or an unusable environment (std::runtime_error: no daemon, no image, no run_dir).
std::unique_ptr<ci::plugin::IsolationBackend> create_docker_backend(const ci::plugin::PluginContext& context) {
    const std::string table = "plugins." + (context.name.empty() ? std::string("docker-backend") : context.name);
    ci::docker::BackendConfig config = ci::docker::parse_backend_config(context.config, context.config_dir, table);
    auto backend = std::make_unique<ci::docker::DockerBackend>(std::move(config), context.log);
    backend->check_startup();
    backend->remove_orphan_dirs();
    backend->prepare_network();
    return backend;
}

}  // namespace

CI_PLUGIN_EXPORT_INFO(docker_backend_info)
CI_PLUGIN_EXPORT_ISOLATION(create_docker_backend)
