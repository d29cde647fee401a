#include "metrics.hpp"

#include <gtest/gtest.h>

namespace ci {
namespace {

using std::chrono::milliseconds;

std::uint64_t executions(const MetricsSnapshot& m, const std::string& outcome) {
    for (const auto& [label, count] : m.executions)
        if (label == outcome) return count;
    return 0;
}

bool has_outcome(const MetricsSnapshot& m, const std::string& outcome) {
    for (const auto& [label, count] : m.executions)
        if (label == outcome) return true;
    return false;
}

TEST(Metrics, RendersAKnownStateExactly) {
    MetricsSnapshot m;
    m.executions = {{"ok", 3}, {"error", 1}, {"timeout", 2}};
    m.requests = {{"tenant:beta", 9}, {"we\"ird\\", 1}};
    m.execution_seconds = {{0.01, 2.5}, {1, 3, 2}, 31.25};
    m.creation_failures = {{"backend_unavailable", 0}, {"other", 4}};
    m.creation_seconds = {{1}, {0, 1}, 1.5};
    m.pool.idle = 2;
    m.pool.busy = 3;
    m.pool.creating = 1;
    m.pool.destroying = 0;
    m.pool.waiting = 5;
    m.pool.consecutive_failures = 4;
    m.sessions.sessions = 6;
    m.sessions.running = 2;
    m.sessions.queued = 7;
    m.sessions.admission_waiting = 1;
    m.uptime_seconds = 12.345;

    EXPECT_EQ(render_prometheus(m),
              "# HELP ci_requests_total Requests that passed authentication, by the principal the auth plugin "
              "named (auth-token: user-token, admin-token, tenant:<name>).\n"
              "# TYPE ci_requests_total counter\n"
              "ci_requests_total{principal=\"tenant:beta\"} 9\n"
              "ci_requests_total{principal=\"we\\\"ird\\\\\"} 1\n"
              "# HELP ci_executions_total Executions answered, by outcome: ok, error (the code raised) or the API "
              "error reason.\n"
              "# TYPE ci_executions_total counter\n"
              "ci_executions_total{outcome=\"ok\"} 3\n"
              "ci_executions_total{outcome=\"error\"} 1\n"
              "ci_executions_total{outcome=\"timeout\"} 2\n"
              "# HELP ci_execution_duration_seconds Time from accepting an execution request to answering it.\n"
              "# TYPE ci_execution_duration_seconds histogram\n"
              "ci_execution_duration_seconds_bucket{le=\"0.01\"} 1\n"
              "ci_execution_duration_seconds_bucket{le=\"2.5\"} 4\n"
              "ci_execution_duration_seconds_bucket{le=\"+Inf\"} 6\n"
              "ci_execution_duration_seconds_sum 31.25\n"
              "ci_execution_duration_seconds_count 6\n"
              "# HELP ci_workers Workers in the pool, by state.\n"
              "# TYPE ci_workers gauge\n"
              "ci_workers{state=\"idle\"} 2\n"
              "ci_workers{state=\"busy\"} 3\n"
              "ci_workers{state=\"creating\"} 1\n"
              "ci_workers{state=\"destroying\"} 0\n"
              "# HELP ci_sessions_waiting_for_worker New sessions waiting for a worker.\n"
              "# TYPE ci_sessions_waiting_for_worker gauge\n"
              "ci_sessions_waiting_for_worker 5\n"
              "# HELP ci_worker_creation_duration_seconds Time from starting a worker's creation to its agent's "
              "first answer (kernel ready).\n"
              "# TYPE ci_worker_creation_duration_seconds histogram\n"
              "ci_worker_creation_duration_seconds_bucket{le=\"1\"} 0\n"
              "ci_worker_creation_duration_seconds_bucket{le=\"+Inf\"} 1\n"
              "ci_worker_creation_duration_seconds_sum 1.5\n"
              "ci_worker_creation_duration_seconds_count 1\n"
              "# HELP ci_worker_creation_failures_total Failed worker creations, by kind.\n"
              "# TYPE ci_worker_creation_failures_total counter\n"
              "ci_worker_creation_failures_total{kind=\"backend_unavailable\"} 0\n"
              "ci_worker_creation_failures_total{kind=\"other\"} 4\n"
              "# HELP ci_worker_creation_consecutive_failures Worker creations failed in a row (0: creation works).\n"
              "# TYPE ci_worker_creation_consecutive_failures gauge\n"
              "ci_worker_creation_consecutive_failures 4\n"
              "# HELP ci_sessions Sessions (users with a kernel or waiting for one).\n"
              "# TYPE ci_sessions gauge\n"
              "ci_sessions 6\n"
              "# HELP ci_executions_running Executions running now.\n"
              "# TYPE ci_executions_running gauge\n"
              "ci_executions_running 2\n"
              "# HELP ci_executions_queued Executions waiting behind another of the same session.\n"
              "# TYPE ci_executions_queued gauge\n"
              "ci_executions_queued 7\n"
              "# HELP ci_sessions_waiting_to_run Sessions waiting for a running slot (execution.max_running).\n"
              "# TYPE ci_sessions_waiting_to_run gauge\n"
              "ci_sessions_waiting_to_run 1\n"
              "# HELP ci_uptime_seconds Seconds since the gateway started.\n"
              "# TYPE ci_uptime_seconds gauge\n"
              "ci_uptime_seconds 12.345\n");
}

TEST(Metrics, HistogramBucketsIncludeTheirUpperBound) {
    Histogram h({0.001, 0.1});
    h.observe(milliseconds(1));   // exactly on the first bound
    h.observe(milliseconds(2));
    h.observe(milliseconds(100));
    h.observe(milliseconds(101));
    h.observe(milliseconds(-5));  // a clock step backwards counts as zero
    auto s = h.snapshot();
    EXPECT_EQ(s.counts, (std::vector<std::uint64_t>{2, 2, 1}));
    EXPECT_DOUBLE_EQ(s.sum_seconds, 0.204);
}

TEST(Metrics, CountsEachOutcomeOnce) {
    Metrics metrics;
    metrics.execution_answered(false, milliseconds(3));
    metrics.execution_answered(false, milliseconds(4));
    metrics.execution_answered(true, milliseconds(5));
    metrics.execution_failed(ErrorReason::oom_killed, milliseconds(6));
    auto m = metrics.snapshot({}, {});
    EXPECT_EQ(executions(m, "ok"), 2u);
    EXPECT_EQ(executions(m, "error"), 1u);
    EXPECT_EQ(executions(m, "oom_killed"), 1u);
    // Reasons that never happened have no series; ok and error always do.
    EXPECT_FALSE(has_outcome(m, "timeout"));
    EXPECT_EQ(m.executions.size(), 3u);
    std::uint64_t observed = 0;
    for (auto c : m.execution_seconds.counts) observed += c;
    EXPECT_EQ(observed, 4u);
    EXPECT_NEAR(m.execution_seconds.sum_seconds, 0.018, 1e-9);
}

TEST(Metrics, CountsWorkerCreationsAndFailuresByKind) {
    Metrics metrics;
    metrics.worker_created(milliseconds(800));
    metrics.worker_created(milliseconds(1200));
    metrics.worker_creation_failed(plugin::FailureKind::unavailable);
    metrics.worker_creation_failed(plugin::FailureKind::unavailable);
    metrics.worker_creation_failed(plugin::FailureKind::exhausted);
    auto m = metrics.snapshot({}, {});
    using Failures = std::vector<std::pair<std::string, std::uint64_t>>;
    EXPECT_EQ(m.creation_failures,
              (Failures{{"backend_unavailable", 2}, {"image_missing", 0}, {"host_exhausted", 1}, {"other", 0}}));
    std::uint64_t created = 0;
    for (auto c : m.creation_seconds.counts) created += c;
    EXPECT_EQ(created, 2u);
    EXPECT_DOUBLE_EQ(m.creation_seconds.sum_seconds, 2.0);
}

TEST(Metrics, SnapshotCarriesThePoolAndSessionGauges) {
    Metrics metrics;
    PoolStats pool;
    pool.idle = 4;
    pool.waiting = 2;
    SessionStats sessions;
    sessions.queued = 9;
    auto text = render_prometheus(metrics.snapshot(pool, sessions));
    EXPECT_NE(text.find("ci_workers{state=\"idle\"} 4\n"), std::string::npos);
    EXPECT_NE(text.find("ci_sessions_waiting_for_worker 2\n"), std::string::npos);
    EXPECT_NE(text.find("ci_executions_queued 9\n"), std::string::npos);
}

}  // namespace
}  // namespace ci
