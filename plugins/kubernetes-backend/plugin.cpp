// The kubernetes-backend plugin's exported entry points (see code_interpreter/plugin/abi.hpp).
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>

#include "backend_settings.hpp"
#include "cluster_access.hpp"
#include "code_interpreter/plugin/abi.hpp"
#include "code_interpreter/plugin/export.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "kubernetes_backend.hpp"

#ifndef CI_KUBERNETES_BACKEND_VERSION
#define CI_KUBERNETES_BACKEND_VERSION "0.1.0"
#endif

namespace {

ci::plugin::PluginInfo kubernetes_backend_info() {
    return ci::plugin::PluginInfo{ci::plugin::kAbiVersion, ci::plugin::PluginKind::isolation, "kubernetes-backend",
                                  CI_KUBERNETES_BACKEND_VERSION};
}

std::map<std::string, std::string> service_environment() {
    std::map<std::string, std::string> env;
    for (const char* name : {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"})
        if (const char* value = std::getenv(name)) env[name] = value;
    return env;
}

// May throw (the only entry point allowed to): invalid settings (std::invalid_argument naming the
// key), an API that cannot be reached or refuses this service account (std::runtime_error).
std::unique_ptr<ci::plugin::IsolationBackend> create_kubernetes_backend(const ci::plugin::PluginContext& context) {
    const char* host_name = std::getenv("HOSTNAME");
    ci::kube::BackendSettings settings = ci::kube::parse_backend_settings(context, host_name ? host_name : "");
    ci::kube::ClusterAccess access;
    try {
        access = ci::kube::resolve_cluster_access(settings.access, service_environment());
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("plugins." + context.name + ": " + e.what());
    }
    auto backend = std::make_unique<ci::kube::KubernetesBackend>(std::move(settings), std::move(access), context.log);
    backend->start();
    return backend;
}

}  // namespace

CI_PLUGIN_EXPORT_INFO(kubernetes_backend_info)
CI_PLUGIN_EXPORT_ISOLATION(create_kubernetes_backend)
