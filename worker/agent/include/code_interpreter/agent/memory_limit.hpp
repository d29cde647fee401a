#pragma once
// The kernel's memory limit: an allocation too large for the worker raises MemoryError in the
// user's code instead of waking the container's OOM killer, which would end the whole worker.
//
// The limit is RLIMIT_DATA (soft = hard: user code may lower it, never raise it), set by the
// kernel's supervisor and inherited by the file server, the kernel and every process user code
// starts, each of which may map that much on its own. RLIMIT_DATA counts one process's private
// writable mappings by their size, touched or not: thread stacks (8 MiB each) and OpenBLAS's
// buffers (128 MiB per BLAS thread) count in full, so the count stays above the kernel's resident
// private memory. RLIMIT_AS is no use: it also counts glibc's reserved arenas and every library's
// mapping, ~580 MiB for an idle kernel.
//
// The container's limits come from the agent's own cgroup as the container sees it; the agent
// knows nothing of the runtime that set them. Where no limit can be read there is none.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

namespace ci::agent {

inline constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

// What the limit leaves of the container for everything it does not count: the agent, the
// supervisor and the file server (~15 MiB resident together), the kernel's page tables and the
// library pages it reads (reclaimable, but they must fit to run at speed).
inline constexpr std::uint64_t kKernelMemoryMargin = 64 * kMiB;

// The lowest limit: an idle kernel maps 110 MiB, one that imported numpy (one BLAS thread; each
// further thread adds 130 MiB), pandas, matplotlib and scipy 310 MiB. Lower, the image's libraries
// would fail (a BLAS call that cannot map its buffer spins for ever). Workers under
// kKernelMemoryFloor + kKernelMemoryMargin thus get a limit above their memory: only allocations
// beyond it raise MemoryError; smaller ones that do not fit still meet the OOM killer.
inline constexpr std::uint64_t kKernelMemoryFloor = 512 * kMiB;

// The limit stated by the text of cgroup v2's memory.max or v1's memory.limit_in_bytes; nullopt
// for "max", for v1's "unlimited" (2^63 rounded down to a page), and for anything else.
std::optional<std::uint64_t> parse_cgroup_memory_limit(std::string_view text);

// The container's memory limit under cgroup_root: memory.max (cgroup v2, with the container's own
// cgroup namespace), else memory/memory.limit_in_bytes (v1, where the runtime mounts the
// container's own cgroup). nullopt when neither states a limit.
std::optional<std::uint64_t> read_container_memory_limit(const std::filesystem::path& cgroup_root);

// RLIMIT_DATA for the kernel of a container limited to container_limit bytes: kKernelMemoryMargin
// below it, never under kKernelMemoryFloor.
std::uint64_t kernel_data_limit(std::uint64_t container_limit);

// The CPUs a CFS quota of quota per period gives, rounded up; nullopt when either is not positive.
std::optional<unsigned> cpus_of_quota(std::int64_t quota, std::int64_t period);

// The container's CPU quota under cgroup_root, as whole CPUs rounded up: cpu.max (v2,
// "<quota> <period>" or "max <period>"), else cpu/cpu.cfs_quota_us and cpu/cpu.cfs_period_us
// (v1, quota -1 for none). nullopt when there is no quota. The kernel's OpenBLAS runs that many
// threads (OPENBLAS_NUM_THREADS), not one per host CPU: each maps a 128 MiB buffer that counts
// against the memory limit.
std::optional<unsigned> read_container_cpus(const std::filesystem::path& cgroup_root);

}  // namespace ci::agent
