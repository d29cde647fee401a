#pragma once
// Isolation backend: makes, inspects and removes the sandboxes (workers) that run the agent.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "code_interpreter/plugin/context.hpp"
#include "code_interpreter/plugin/result.hpp"

namespace ci::plugin {

struct WorkerLimits {
    double cpus = 1.0;
    std::uint64_t memory_mb = 1024;  // hard limit, no swap beyond it
    std::uint64_t pids = 256;
    std::uint64_t tmp_mb = 64;       // size of the worker's private /tmp
};

struct WorkerSpec {
    std::string worker_id;   // chosen by the core: 12 lowercase hex characters, unique
    WorkerLimits limits;
    std::string agent_key;   // secret the agent uses to sign and verify gateway messages
    // Host directory mounted as the kernel's home and working directory (from a StorageProvider).
    // Empty: the backend gives the worker a private in-memory workspace of workspace_mb.
    std::string workspace_host_path;
    std::uint64_t workspace_mb = 500;
    // Python modules the kernel imports before the worker is ready (dotted names, checked by the
    // core; empty for a worker a session waits for); the agent takes them as one argument,
    // preload_argument(preload_modules).
    std::vector<std::string> preload_modules;
    // Made ahead of demand (a pool refill, no session waiting for it): the backend may run it at a
    // low CPU priority until worker_leased, so that refills do not slow the sessions running.
    bool ahead_of_demand = false;
};

// "a,b.c": the value of the agent's --preload option.
inline std::string preload_argument(const std::vector<std::string>& modules) {
    std::string joined;
    for (const auto& module : modules) joined += (joined.empty() ? "" : ",") + module;
    return joined;
}

struct WorkerHandle {
    std::string worker_id;
    std::string backend_id;      // the backend's own name for it (a container id, ...)
    std::string agent_endpoint;  // ZeroMQ endpoint the gateway connects to: ipc://... or tcp://...
    // Set by list_workers when the worker was made from another configuration than the backend's
    // current one (another image...): the core removes such a worker instead of adopting it.
    std::string stale;
};

enum class WorkerState { running, exited, oom_killed, missing };

struct WorkerStatus {
    WorkerState state = WorkerState::missing;
    int exit_code = 0;
    std::string detail;  // backend's words, for logs and error bodies
};

// Several gateways, one set of sessions: a backend whose workers every gateway of a deployment can
// reach may keep, in a directory they all share, which worker each session lives on (its claim)
// and when a gateway last said it served the session (so that none ends a session another uses).
struct SessionClaim {
    WorkerHandle worker;
    std::string agent_key;
    std::int64_t renewed_unix_ms = 0;  // the claim's last renewal (or its making), Unix time
};

class IsolationBackend {
public:
    virtual ~IsolationBackend() = default;
    // Creates and starts a worker; returns once the backend has started it (the agent may still be
    // starting: the core waits for the agent's answer).
    virtual Result<WorkerHandle> create_worker(const WorkerSpec& spec) = 0;
    // Removes the worker and everything the backend made for it. Removing a missing worker succeeds.
    virtual Status destroy_worker(const std::string& worker_id) = 0;
    // The workers this backend instance made and that still exist (running or not). A restarted
    // gateway adopts the running ones it knows (see WorkerHandle::stale) and destroys the rest.
    virtual Result<std::vector<WorkerHandle>> list_workers() = 0;
    virtual Result<WorkerStatus> inspect_worker(const std::string& worker_id) = 0;
    // The worker starts serving a session: from now on it runs at the normal CPU priority
    // (WorkerSpec::ahead_of_demand). Called on the request path: keep it cheap.
    virtual Status worker_leased(const WorkerHandle& worker) {
        (void)worker;
        return Status::success();
    }

    // The shared directory of sessions, for backends that have one (the defaults: none; sessions
    // are then each gateway's own). With one, list_workers lists only the workers this gateway
    // made, never one another gateway may serve. session: 64 lowercase hex characters naming a
    // session (a hash of its tenant and user).
    virtual bool shares_sessions() const { return false; }
    // The worker claimed for session with its key, or nullopt: none (a claim whose worker is gone
    // is removed and reads as none).
    virtual Result<std::optional<SessionClaim>> find_session(const std::string& session) {
        (void)session;
        return Result<std::optional<SessionClaim>>::success(std::nullopt);
    }
    // Claims worker_id, leased by this gateway, for session; fails with FailureKind::conflict when
    // another claim exists (find_session names it).
    virtual Status claim_session(const std::string& session, const std::string& worker_id) {
        (void)session;
        (void)worker_id;
        return Status::success();
    }
    // Records that this gateway serves session now (renewed_unix_ms).
    virtual Status renew_session(const std::string& session) {
        (void)session;
        return Status::success();
    }
    // Destroys the workers (and claims) of the sessions whose claims no gateway renewed since
    // renewed_before_unix_ms: sessions every gateway left idle, those of gateways that are gone
    // included. Returns how many.
    virtual Result<int> remove_idle_sessions(std::int64_t renewed_before_unix_ms) {
        (void)renewed_before_unix_ms;
        return Result<int>::success(0);
    }
};

using IsolationFactory = std::unique_ptr<IsolationBackend>(const PluginContext&);

}  // namespace ci::plugin
