#include "metrics.hpp"

#include <algorithm>
#include <charconv>

namespace ci {
namespace {

// From a trivial execution (a few ms) to the default execution timeout.
const std::vector<double> kExecutionBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,      2.5,   5,    10,    30,   60,  120};
// A container start plus a kernel start takes about a second; worker_start_timeout is 60 s.
const std::vector<double> kCreationBuckets = {0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120};

// The names /status uses for the pool's condition, so both views of a failure agree.
const char* failure_kind_label(plugin::FailureKind kind) {
    switch (kind) {
        case plugin::FailureKind::unavailable: return "backend_unavailable";
        case plugin::FailureKind::not_found: return "image_missing";
        case plugin::FailureKind::exhausted: return "host_exhausted";
        case plugin::FailureKind::conflict:
        case plugin::FailureKind::other: break;
    }
    return "other";
}

std::string number(double value) {
    char buf[32];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    return std::string(buf, end);
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string& out, const char* name, const std::string& labels, const std::string& value) {
    out += name;
    if (!labels.empty()) out += '{' + labels + '}';
    out += ' ';
    out += value;
    out += '\n';
}

void gauge(std::string& out, const char* name, const char* help, double value) {
    header(out, name, "gauge", help);
    sample(out, name, "", number(value));
}

// A label value as the exposition format quotes it (a plugin names principals).
std::string label_value(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

void labelled_counter(std::string& out, const char* name, const char* help, const char* label,
                      const std::vector<std::pair<std::string, std::uint64_t>>& values) {
    header(out, name, "counter", help);
    for (const auto& [value, count] : values)
        sample(out, name, std::string(label) + "=\"" + label_value(value) + "\"", std::to_string(count));
}

// _count is the +Inf bucket, so the two always agree even while observations land mid-snapshot.
void histogram(std::string& out, const char* name, const char* help, const Histogram::Snapshot& h) {
    header(out, name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
        cumulative += h.counts[i];
        std::string le = i < h.bounds.size() ? number(h.bounds[i]) : "+Inf";
        sample(out, bucket.c_str(), "le=\"" + le + "\"", std::to_string(cumulative));
    }
    sample(out, (std::string(name) + "_sum").c_str(), "", number(h.sum_seconds));
    sample(out, (std::string(name) + "_count").c_str(), "", std::to_string(cumulative));
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(std::chrono::nanoseconds value) {
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, value.count()));
    const double seconds = static_cast<double>(ns) / 1e9;
    const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.bounds = bounds_;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) s.counts.push_back(counts_[i].load(std::memory_order_relaxed));
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
}

std::string render_prometheus(const MetricsSnapshot& m) {
    std::string out;
    labelled_counter(out, "ci_requests_total",
                     "Requests that passed authentication, by the principal the auth plugin named "
                     "(auth-token: user-token, admin-token, tenant:<name>).",
                     "principal", m.requests);
    labelled_counter(out, "ci_executions_total",
                     "Executions answered, by outcome: ok, error (the code raised) or the API error reason.",
                     "outcome", m.executions);
    histogram(out, "ci_execution_duration_seconds", "Time from accepting an execution request to answering it.",
              m.execution_seconds);
    header(out, "ci_workers", "gauge", "Workers in the pool, by state.");
    for (auto [state, count] : {std::pair{"idle", m.pool.idle}, std::pair{"busy", m.pool.busy},
                                std::pair{"creating", m.pool.creating}, std::pair{"destroying", m.pool.destroying}})
        sample(out, "ci_workers", std::string("state=\"") + state + "\"", std::to_string(count));
    gauge(out, "ci_sessions_waiting_for_worker", "New sessions waiting for a worker.", m.pool.waiting);
    histogram(out, "ci_worker_creation_duration_seconds",
              "Time from starting a worker's creation to its agent's first answer (kernel ready).",
              m.creation_seconds);
    labelled_counter(out, "ci_worker_creation_failures_total", "Failed worker creations, by kind.", "kind",
                     m.creation_failures);
    gauge(out, "ci_worker_creation_consecutive_failures", "Worker creations failed in a row (0: creation works).",
          m.pool.consecutive_failures);
    gauge(out, "ci_sessions", "Sessions (users with a kernel or waiting for one).", m.sessions.sessions);
    gauge(out, "ci_executions_running", "Executions running now.", m.sessions.running);
    gauge(out, "ci_executions_queued", "Executions waiting behind another of the same session.", m.sessions.queued);
    gauge(out, "ci_sessions_waiting_to_run", "Sessions waiting for a running slot (execution.max_running).",
          m.sessions.admission_waiting);
    gauge(out, "ci_uptime_seconds", "Seconds since the gateway started.", m.uptime_seconds);
    return out;
}

Metrics::Metrics()
    : started_(Clock::now()), execution_seconds_(kExecutionBuckets), creation_seconds_(kCreationBuckets) {}

void Metrics::execution_answered(bool code_raised, Clock::duration latency) {
    (code_raised ? user_error_ : ok_).fetch_add(1, std::memory_order_relaxed);
    execution_seconds_.observe(latency);
}

void Metrics::execution_failed(ErrorReason reason, Clock::duration latency) {
    const auto slot = std::min(static_cast<std::size_t>(reason), kReasonSlots - 1);
    failed_[slot].fetch_add(1, std::memory_order_relaxed);
    execution_seconds_.observe(latency);
}

void Metrics::worker_created(Clock::duration took) { creation_seconds_.observe(took); }

void Metrics::worker_creation_failed(plugin::FailureKind kind) {
    auto index = static_cast<std::size_t>(kind);
    if (index >= kFailureKinds) index = static_cast<std::size_t>(plugin::FailureKind::other);
    creation_failures_[index].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::request_authenticated(const std::string& principal) {
    std::lock_guard lock(requests_mu_);
    ++requests_[principal];
}

MetricsSnapshot Metrics::snapshot(PoolStats pool, SessionStats sessions) const {
    MetricsSnapshot m;
    m.executions = {{"ok", ok_.load(std::memory_order_relaxed)}, {"error", user_error_.load(std::memory_order_relaxed)}};
    // A reason's series appears with its first occurrence: most reasons never come from /execute.
    for (std::size_t i = 0; i < kReasonSlots; ++i)
        if (auto count = failed_[i].load(std::memory_order_relaxed); count > 0)
            m.executions.emplace_back(reason_code(static_cast<ErrorReason>(i)), count);
    m.execution_seconds = execution_seconds_.snapshot();
    {
        std::lock_guard lock(requests_mu_);
        m.requests.assign(requests_.begin(), requests_.end());
    }
    for (auto kind : {plugin::FailureKind::unavailable, plugin::FailureKind::not_found, plugin::FailureKind::exhausted,
                      plugin::FailureKind::other})
        m.creation_failures.emplace_back(failure_kind_label(kind),
                                         creation_failures_[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed));
    m.creation_seconds = creation_seconds_.snapshot();
    m.pool = std::move(pool);
    m.sessions = sessions;
    m.uptime_seconds =
        static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count()) / 1000.0;
    return m;
}

}  // namespace ci
