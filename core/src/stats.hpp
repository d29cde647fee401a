#pragma once
// What the pool and the sessions report about themselves (GET /status, GET /metrics): plain
// values, so whoever shows them needs neither WorkerPool nor SessionManager.
#include <cstdint>
#include <string>

namespace ci {

struct PoolStats {
    int idle = 0;
    int busy = 0;      // leased to sessions
    int creating = 0;
    int destroying = 0;  // including workers whose removal failed and is retried
    int waiting = 0;   // sessions waiting for a worker
    int total() const { return idle + busy + creating + destroying; }
    // "ok", or why creations fail now: backend_unavailable, image_missing, host_exhausted,
    // creation_failing.
    std::string condition = "ok";
    std::string last_create_error;  // empty after a success
    int consecutive_failures = 0;
    std::int64_t failing_for_ms = 0;
    std::int64_t next_retry_in_ms = 0;
    // The first min_idle_workers workers since start are not all ready yet (the original's
    // is_initializing).
    bool initializing = false;
    int idle_target = 0;  // min_idle_workers, raised by recent arrivals (pool.arrival_window)
    // Time from a creation's start to its agent's first answer, over the latest creations.
    int ready_samples = 0;
    std::int64_t ready_ms_p50 = 0;
    std::int64_t ready_ms_max = 0;
};

struct SessionStats {
    int sessions = 0;
    int running = 0;  // executions running now
    int queued = 0;   // executions waiting behind another of the same session
    int admission_waiting = 0;  // sessions waiting for a running slot (execution.max_running)
};

}  // namespace ci
