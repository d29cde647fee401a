#pragma once
// What the backend reads from the host besides Docker: its accounts (worker ids must belong to none
// of them), whether AppArmor is on, and the block device under a worker's workspace.
#include <sys/types.h>

#include <string>
#include <string_view>

#include "backend_config.hpp"

namespace ci::docker {

// The host's user (group) with that id through NSS (/etc/passwd, LDAP...); "" when there is none.
std::string host_user_name(uid_t uid);
std::string host_group_name(gid_t gid);

// Empty when no configured id (agent_uid, agent_gid, kernel_uid, kernel_gid) belongs to a host
// account, else what each one belongs to: a host user sharing the kernel's uid could signal and
// trace every kernel, one sharing the agent's could read every worker's key.
std::string host_identity_conflicts(const BackendConfig& config);

// As Docker decides it: <sys>/kernel/security/apparmor exists and the module says Y.
bool apparmor_enabled(const std::string& sys = "/sys");

// DEVNAME of a /sys/dev/block/<major>:<minor>/uevent text ("loop3"); "" when absent.
std::string uevent_device_name(std::string_view uevent);

// The device node ("/dev/loop3") of the block device holding `path`'s file system; "" when that
// file system has none (tmpfs, overlay) or its node is not in `dev`.
std::string block_device_of(const std::string& path, const std::string& sys = "/sys",
                            const std::string& dev = "/dev");

}  // namespace ci::docker
