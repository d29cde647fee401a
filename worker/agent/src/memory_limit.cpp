#include "code_interpreter/agent/memory_limit.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <string>

namespace ci::agent {
namespace {

// v1 writes "no limit" as LONG_MAX rounded down to a page; no real limit comes near.
constexpr std::uint64_t kUnlimitedFrom = std::uint64_t{1} << 62;

// The start of a cgroup file (they hold one short line); nullopt when it cannot be read.
std::optional<std::string> read_cgroup_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::string text(64, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    return text;
}

// The whole of text (spaces around aside) as a decimal number.
template <class Number>
std::optional<Number> parse_number(std::string_view text) {
    text = trimmed(text);
    Number value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

std::optional<std::uint64_t> parse_cgroup_memory_limit(std::string_view text) {
    const auto limit = parse_number<std::uint64_t>(text);
    if (!limit || *limit == 0 || *limit >= kUnlimitedFrom) return std::nullopt;
    return limit;
}

std::optional<std::uint64_t> read_container_memory_limit(const std::filesystem::path& cgroup_root) {
    for (const auto& file : {cgroup_root / "memory.max", cgroup_root / "memory/memory.limit_in_bytes"})
        if (const auto text = read_cgroup_file(file)) return parse_cgroup_memory_limit(*text);
    return std::nullopt;
}

std::uint64_t kernel_data_limit(std::uint64_t container_limit) {
    const std::uint64_t below = container_limit > kKernelMemoryMargin
                                    ? container_limit - kKernelMemoryMargin
                                    : 0;
    return std::max(below, kKernelMemoryFloor);
}

std::optional<unsigned> cpus_of_quota(std::int64_t quota, std::int64_t period) {
    if (quota <= 0 || period <= 0) return std::nullopt;
    const std::int64_t cpus = quota / period + (quota % period != 0 ? 1 : 0);
    return static_cast<unsigned>(std::min<std::int64_t>(cpus, 1 << 16));
}

std::optional<unsigned> read_container_cpus(const std::filesystem::path& cgroup_root) {
    std::string quota, period;
    if (const auto text = read_cgroup_file(cgroup_root / "cpu.max")) {
        const std::string_view line = trimmed(*text);
        const std::size_t space = std::min(line.find(' '), line.size());
        quota = line.substr(0, space);
        period = line.substr(std::min(space + 1, line.size()));
    } else {
        const auto v1_quota = read_cgroup_file(cgroup_root / "cpu/cpu.cfs_quota_us");
        const auto v1_period = read_cgroup_file(cgroup_root / "cpu/cpu.cfs_period_us");
        if (!v1_quota || !v1_period) return std::nullopt;
        quota = *v1_quota;
        period = *v1_period;
    }
    // "max" (v2) is not a number and -1 (v1) not a quota: no limit either way.
    const auto q = parse_number<std::int64_t>(quota);
    const auto p = parse_number<std::int64_t>(period);
    if (!q || !p) return std::nullopt;
    return cpus_of_quota(*q, *p);
}

}  // namespace ci::agent
