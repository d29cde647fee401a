#pragma once
// A worker's CPU weight, set straight in its cgroup. A refill (WorkerSpec::ahead_of_demand) is
// created with the lowest weight, so that under contention the CPU goes to the sessions running
// rather than to kernels starting up; worker_leased gives it the normal weight. Docker's own update
// call would do the same by running the OCI runtime (about 65 ms of CPU per lease, measured on the
// 2-core development machine); a write to cpu.shares (cgroup v1) or cpu.weight (v2) takes microseconds.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "code_interpreter/plugin/result.hpp"

namespace ci::docker {

// Docker's CpuShares for a refill: the lowest it accepts (cgroup v2: weight 1).
inline constexpr int kRefillCpuShares = 2;

struct CpuController {
    std::filesystem::path mount;  // the hierarchy holding the cpu controller
    bool unified = false;         // cgroup v2: cpu.weight; v1: cpu.shares
};

// The cpu controller's mount from /proc/self/mountinfo's text: a cgroup v1 hierarchy with the cpu
// controller, else the cgroup2 mount; nullopt when neither is there.
std::optional<CpuController> find_cpu_controller(std::string_view mountinfo);
// The same, for this process's /proc/self/mountinfo.
std::optional<CpuController> host_cpu_controller();

// Gives the container (its full id, 64 lowercase hex characters) the default weight (cpu.shares 1024, cpu.weight 100), in the
// cgroup Docker made for it with either cgroup driver: <mount>/docker/<id> (cgroupfs) or
// <mount>/system.slice/docker-<id>.scope (systemd).
ci::plugin::Status set_default_cpu_weight(const CpuController& controller, const std::string& container_id);

}  // namespace ci::docker
