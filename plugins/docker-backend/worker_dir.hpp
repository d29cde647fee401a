#pragma once
// The per-worker host directory, bound at /run/ci: a tiny tmpfs of its own (nosuid, nodev,
// noexec, nosymfollow), 0700 for the agent's user, holding agent.key (0600), the hosts file and the agent's
// socket. Its own size limit keeps a worker from filling the host's /run.
#include <sys/types.h>

#include <string>

#include "code_interpreter/plugin/result.hpp"

namespace ci::docker {

// The tmpfs of a worker dir: the key, the hosts file and the socket need a page each.
inline constexpr const char* kWorkerDirTmpfsSize = "256k";
inline constexpr int kWorkerDirTmpfsInodes = 16;

// mkdir -p with mode 0755 for missing components (existing ones are left as they are).
ci::plugin::Status ensure_directory(const std::string& path);

// Move-only owner of a worker dir's tmpfs this process mounted: unmounted (and its mount point
// removed) on destruction unless released, so a half-made worker dir is undone.
class WorkerDirMount {
public:
    // Makes `path` (which must not exist; its parent must) and mounts the tmpfs there, owned uid:gid.
    static ci::plugin::Result<WorkerDirMount> make(const std::string& path, uid_t uid, gid_t gid);

    WorkerDirMount() = default;
    ~WorkerDirMount();
    WorkerDirMount(WorkerDirMount&& other) noexcept;
    WorkerDirMount& operator=(WorkerDirMount&& other) noexcept;
    WorkerDirMount(const WorkerDirMount&) = delete;
    WorkerDirMount& operator=(const WorkerDirMount&) = delete;

    // Leaves the tmpfs mounted: it is the worker's now, removed by remove_worker_dir.
    void release() { path_.clear(); }

private:
    std::string path_;
};

// Makes `path` as above and writes `key` to `path`/`key_file` (0600, owned uid:gid); undoes itself
// on failure.
ci::plugin::Status make_worker_dir(const std::string& path, uid_t uid, gid_t gid, const std::string& key_file,
                                   const std::string& key);

// Writes `path`/hosts (0644, the gateway's owner): the worker's /etc/hosts when it has no network,
// where Docker writes none, so the worker's host name resolves (to loopback) as in networked mode.
ci::plugin::Status write_hosts_file(const std::string& path, const std::string& hostname);

// Unmounts whatever is mounted on `path` (lazily when it is busy), then rm -rf it without crossing
// into another file system. A missing path succeeds.
ci::plugin::Status remove_worker_dir(const std::string& path);

}  // namespace ci::docker
