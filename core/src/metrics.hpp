#pragma once
// The gateway's counters and histograms, and their Prometheus text rendering (GET /metrics).
// Recording is a few relaxed atomic adds: it runs on every execution's completion.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "api_error.hpp"
#include "code_interpreter/plugin/result.hpp"
#include "stats.hpp"

namespace ci {

// Fixed buckets (upper bounds in seconds); the last, implicit bucket is +Inf.
class Histogram {
public:
    struct Snapshot {
        std::vector<double> bounds;
        std::vector<std::uint64_t> counts;  // per bucket (not cumulative), bounds.size() + 1
        double sum_seconds = 0;
    };

    explicit Histogram(std::vector<double> bounds);
    void observe(std::chrono::nanoseconds value);
    Snapshot snapshot() const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
    std::atomic<std::uint64_t> sum_ns_{0};
};

// Everything /metrics shows, read at one moment.
struct MetricsSnapshot {
    std::vector<std::pair<std::string, std::uint64_t>> executions;  // outcome label -> count
    std::vector<std::pair<std::string, std::uint64_t>> requests;    // principal label -> count
    Histogram::Snapshot execution_seconds;
    std::vector<std::pair<std::string, std::uint64_t>> creation_failures;  // kind label -> count
    Histogram::Snapshot creation_seconds;
    PoolStats pool;
    SessionStats sessions;
    double uptime_seconds = 0;
};

// Prometheus text exposition format 0.0.4.
std::string render_prometheus(const MetricsSnapshot& snapshot);
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

class Metrics {
public:
    using Clock = std::chrono::steady_clock;

    Metrics();

    // An execution answered after latency: the code ran (and raised or not), or the API error.
    void execution_answered(bool code_raised, Clock::duration latency);
    void execution_failed(ErrorReason reason, Clock::duration latency);
    // A worker's agent answered, this long after its creation began.
    void worker_created(Clock::duration took);
    void worker_creation_failed(plugin::FailureKind kind);
    // A request passed authentication as principal (a name from the auth plugin: few, never secret).
    void request_authenticated(const std::string& principal);

    MetricsSnapshot snapshot(PoolStats pool, SessionStats sessions) const;

private:
    // Indexed by ErrorReason; room for reasons added later.
    static constexpr std::size_t kReasonSlots = 32;
    static constexpr std::size_t kFailureKinds = 4;

    Clock::time_point started_;
    std::atomic<std::uint64_t> ok_{0};
    std::atomic<std::uint64_t> user_error_{0};
    std::array<std::atomic<std::uint64_t>, kReasonSlots> failed_{};
    Histogram execution_seconds_;
    std::array<std::atomic<std::uint64_t>, kFailureKinds> creation_failures_{};
    Histogram creation_seconds_;
    mutable std::mutex requests_mu_;
    std::map<std::string, std::uint64_t> requests_;
};

}  // namespace ci
