#include "workload.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <sstream>
#include <string_view>
#include <vector>

#include "code_interpreter/crypto/crypto.hpp"

namespace ci::bench {

Step counter_step(std::size_t user, std::size_t step) {
    const std::size_t base = (user + 1) * 1000000;
    if (step == 0) return {"n = " + std::to_string(base) + "\nn", std::to_string(base)};
    return {"n += 1\nn", std::to_string(base + step)};
}

namespace {

// A number in [low, high] that depends only on (user, step, salt): splitmix64.
long long pick(std::size_t user, std::size_t step, std::uint64_t salt, long long low, long long high) {
    std::uint64_t z = (static_cast<std::uint64_t>(user) << 32) ^ (static_cast<std::uint64_t>(step) << 8) ^ salt;
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return low + static_cast<long long>(z % static_cast<std::uint64_t>(high - low + 1));
}

std::string number(double value) {
    std::ostringstream out;
    out << std::setprecision(17) << value;
    return out.str();
}

}  // namespace

Step original_step(std::size_t user, std::size_t step) {
    switch (user % 3) {
        case 0: {  // arithmetic
            long long x = pick(user, 0, 1, 1000, 9999);
            if (step == 0) return {"x = " + std::to_string(x), ""};
            for (std::size_t i = 1; i < step; ++i) x += pick(user, i, 2, 100, 999);
            const long long add = pick(user, step, 2, 100, 999);
            return {"x += " + std::to_string(add) + "; print(x)", std::to_string(x + add), true};
        }
        case 1: {  // list
            const long long length = pick(user, 0, 3, 2, 4);
            std::vector<long long> items;
            for (long long i = 0; i < length; ++i) items.push_back(pick(user, 0, 10 + static_cast<std::uint64_t>(i), 10, 99));
            if (step == 0) {
                std::string list = "[";
                for (std::size_t i = 0; i < items.size(); ++i) list += (i ? ", " : "") + std::to_string(items[i]);
                return {"my_list = " + list + "]", ""};
            }
            for (std::size_t i = 1; i <= step; ++i) items.push_back(pick(user, i, 4, 100, 199));
            long long sum = 0;
            for (long long item : items) sum += item;
            return {"my_list.append(" + std::to_string(items.back()) + "); print(sum(my_list))", std::to_string(sum),
                    true};
        }
        default: {  // numpy, in rounds of three
            const std::size_t round = step / 3;
            std::vector<long long> values;
            for (std::uint64_t i = 0; i < 3; ++i) values.push_back(pick(user, round, 20 + i, 10, 50));
            const long long multiplier = pick(user, round, 5, 2, 5);
            if (step % 3 == 0)
                return {"import numpy as np; arr = np.array([" + std::to_string(values[0]) + ", " +
                            std::to_string(values[1]) + ", " + std::to_string(values[2]) + "])",
                        ""};
            const long long sum = (values[0] + values[1] + values[2]) * multiplier;
            if (step % 3 == 1)
                return {"arr = arr * " + std::to_string(multiplier) + "; print(np.sum(arr))", std::to_string(sum), true};
            return {"print(np.mean(arr))", number(static_cast<double>(sum) / 3.0), true};
        }
    }
}

bool answer_matches(const Step& step, const std::string* result_text) {
    if (step.expected.empty()) return !result_text || result_text->empty();
    if (!result_text) return false;
    if (!step.numeric) return *result_text == step.expected;
    char* end = nullptr;
    const double got = std::strtod(result_text->c_str(), &end);
    if (end == result_text->c_str() || std::string_view(end).find_first_not_of(" \n") != std::string_view::npos)
        return false;
    const double want = std::strtod(step.expected.c_str(), nullptr);
    return std::fabs(got - want) <= 1e-9 * std::max(std::fabs(got), std::fabs(want));
}

std::string random_uuid() {
    std::string hex = crypto::random_hex(16);
    hex[12] = '4';                                           // version 4
    hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
    return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' + hex.substr(16, 4) + '-' +
           hex.substr(20);
}

}  // namespace ci::bench
