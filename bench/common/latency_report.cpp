#include "latency_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <stdexcept>

namespace ci::bench {
namespace {

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

double ratio(std::size_t part, std::size_t whole) {
    return whole == 0 ? 0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

LatencySummary summarize(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    if (samples.empty()) return {};
    return {samples.size(),
            std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size()),
            percentile(samples, 50),
            percentile(samples, 95),
            percentile(samples, 99),
            samples.back()};
}

nlohmann::json to_json(const LatencySummary& s) {
    return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50}, {"p95", s.p95}, {"p99", s.p99}, {"max", s.max}};
}

nlohmann::json to_json(const RunRecord& run) {
    return {
        {"label", run.label},
        {"kind", run.kind},
        {"users", run.users},
        {"requests_per_user", run.requests_per_user},
        {"warmup", run.warmup},
        {"attempted", run.attempted},
        {"succeeded", run.succeeded},
        {"verified", run.verified},
        {"success_rate", ratio(run.succeeded, run.attempted)},
        {"verification_rate", ratio(run.verified, run.attempted)},
        {"duration_s", run.duration_s},
        {"requests_per_s", run.duration_s > 0 ? static_cast<double>(run.succeeded) / run.duration_s : 0},
        {"latency_ms", to_json(summarize(run.latencies_ms))},
        {"errors", run.errors},
        {"settings", run.extra},
        {"latencies_ms", run.latencies_ms},
    };
}

void print_table(const RunRecord& run) {
    nlohmann::json j = to_json(run);
    const LatencySummary l = summarize(run.latencies_ms);
    std::printf("%-28s %6s %8s %8s %7s %9s %9s %8s %8s %8s %8s %8s\n", "run", "users", "req/user", "requests",
                "ok %", "verified%", "req/s", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms");
    std::printf("%-28s %6zu %8zu %8zu %7.1f %9.1f %9.1f %8.2f %8.2f %8.2f %8.2f %8.2f\n", run.label.c_str(),
                run.users, run.requests_per_user, run.attempted, j["success_rate"].get<double>(),
                j["verification_rate"].get<double>(), j["requests_per_s"].get<double>(), l.mean, l.p50, l.p95, l.p99, l.max);
    for (const auto& [reason, count] : run.errors) std::printf("  error x%zu: %s\n", count, reason.c_str());
    std::fflush(stdout);
}

void write_json(const RunRecord& run, const std::string& path) {
    std::ofstream out(path);
    out << to_json(run).dump(1) << '\n';
    if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace ci::bench
