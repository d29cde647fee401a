#pragma once
// The stateful workload both the gateway and the raw kernels run: each user keeps a counter in
// its kernel, so every answer proves the session kept its state (and was nobody else's: each
// user counts from its own base).
#include <chrono>
#include <cstddef>
#include <string>

namespace ci::bench {

struct Step {
    std::string code;
    std::string expected;  // the execute_result's text/plain
};

// Step 0 sets the counter to a per-user base; step i > 0 increments it and shows it.
Step counter_step(std::size_t user, std::size_t step);

// A fresh random UUID version 4.
std::string random_uuid();

// Milliseconds between two steady-clock readings.
template <class TimePoint>
double elapsed_ms(TimePoint from, TimePoint to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace ci::bench
