#pragma once
// What one benchmark run measured, summarised the same way for the gateway and the raw kernels,
// so that every figure of the gateway can be put next to (and divided by) the baseline's.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::bench {

struct RunRecord {
    std::string label;             // names the run in tables and charts
    std::string kind;              // "gateway" | "raw"
    std::size_t users = 0;         // concurrent users (or kernels)
    std::size_t requests_per_user = 0;
    std::size_t warmup = 0;        // unmeasured requests per user before the measured ones
    std::size_t attempted = 0;     // measured requests sent
    std::size_t succeeded = 0;     // answered without error
    std::size_t verified = 0;      // answered with exactly the expected value
    double duration_s = 0;         // wall time of the measured phase
    std::vector<double> latencies_ms;  // one per answered measured request
    std::vector<double> answered_at_s;  // optional: when each of them was answered, from the phase's start
    std::map<std::string, std::size_t> errors;  // reason -> count
    nlohmann::json extra = nlohmann::json::object();  // run-specific settings, copied to the JSON

    void add_error(const std::string& reason) { ++errors[reason]; }
};

struct LatencySummary {
    std::size_t count = 0;
    double mean = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentiles: each one is a value that was actually measured.
LatencySummary summarize(std::vector<double> samples_ms);
nlohmann::json to_json(const LatencySummary& summary);

// The summary and every latency, for docs/benchmarks.md and the chart.
nlohmann::json to_json(const RunRecord& run);

// A one-row table with its header, on stdout.
void print_table(const RunRecord& run);

// Writes to_json(run) to path; throws on failure.
void write_json(const RunRecord& run, const std::string& path);

}  // namespace ci::bench
