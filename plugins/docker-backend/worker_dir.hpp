#pragma once
// The per-worker host directory: made 0700 for the agent's user, holding agent.key (0600).
#include <sys/types.h>

#include <string>

#include "code_interpreter/plugin/result.hpp"

namespace ci::docker {

// mkdir -p with mode 0755 for missing components (existing ones are left as they are).
ci::plugin::Status ensure_directory(const std::string& path);

// Makes `path` (which must not exist; its parent must) with mode 0700 owned uid:gid, and writes
// `key` to `path`/`key_file` with mode 0600 owned uid:gid.
ci::plugin::Status make_worker_dir(const std::string& path, uid_t uid, gid_t gid, const std::string& key_file,
                                   const std::string& key);

// Writes `path`/hosts (0644, the gateway's owner): the worker's /etc/hosts when it has no network,
// where Docker writes none, so the worker's host name resolves (to loopback) as in networked mode.
ci::plugin::Status write_hosts_file(const std::string& path, const std::string& hostname);

// rm -rf `path` (never following symlinks out of it). A missing path succeeds.
ci::plugin::Status remove_tree(const std::string& path);

}  // namespace ci::docker
