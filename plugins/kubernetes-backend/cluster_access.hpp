#pragma once
// Where the Kubernetes API is and how to prove who we are: inside a pod, from the service account
// Kubernetes mounts (KUBERNETES_SERVICE_HOST/PORT, token, ca.crt, namespace); outside, from explicit
// settings (api_url, token_file, ca_file, namespace), as a kubeconfig would give them.
#include <sys/types.h>

#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace ci::kube {

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

struct ClusterAccess {
    std::string api_url;     // https://host:port, no trailing slash
    std::string token_file;  // bearer token, re-read when it changes (projected tokens rotate)
    std::string ca_file;     // PEM bundle the API server's certificate must chain to
    std::string namespace_;  // where the workers live
};

// Explicit settings; any left empty comes from the pod's service account. env stands for the
// process environment (tests pass their own). Throws std::invalid_argument naming what is missing.
struct ExplicitAccess {
    std::string api_url, token_file, ca_file, namespace_;
};
ClusterAccess resolve_cluster_access(const ExplicitAccess& given, const std::map<std::string, std::string>& env,
                                     const std::string& service_account_dir = kServiceAccountDir);

// The bearer token, read again whenever its file changed (kubelet swaps a projected token in place
// through a symlink, about hourly). Thread-safe.
class BearerToken {
public:
    explicit BearerToken(std::string path) : path_(std::move(path)) {}
    // The current token; throws std::runtime_error when the file cannot be read or is empty.
    std::string get();

private:
    std::string path_;
    std::mutex mu_;
    std::string token_;
    std::optional<std::timespec> read_mtime_;
    ino_t read_inode_ = 0;
};

}  // namespace ci::kube
