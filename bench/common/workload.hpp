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
    std::string expected;  // the execute_result's text/plain (counter), the printed number (original);
                           // empty: a step that shows nothing, right when it succeeds
    bool numeric = false;  // expected is a number, compared as the original's test does (relative 1e-9)
};

// Step 0 sets the counter to a per-user base; step i > 0 increments it and shows it.
Step counter_step(std::size_t user, std::size_t step);

// The original project's stress test (its test_concurrent.py), deterministically: user % 3 picks
// one of its scenarios, each number comes from (user, step):
//   arithmetic: x = <1000..9999>, then x += <100..999>; print(x)
//   list:       my_list = [2 to 4 numbers of 10..99], then my_list.append(<100..199>); print(sum(my_list))
//   numpy:      in rounds of three, import numpy as np; arr = np.array([3 numbers of 10..50]),
//               arr = arr * <2..5>; print(np.sum(arr)), print(np.mean(arr))
Step original_step(std::size_t user, std::size_t step);

// Whether an answer's result_text is right for step.
bool answer_matches(const Step& step, const std::string* result_text);

// A fresh random UUID version 4.
std::string random_uuid();

// Milliseconds between two steady-clock readings.
template <class TimePoint>
double elapsed_ms(TimePoint from, TimePoint to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace ci::bench
