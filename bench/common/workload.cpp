#include "workload.hpp"

#include "code_interpreter/protocol/crypto.hpp"

namespace ci::bench {

Step counter_step(std::size_t user, std::size_t step) {
    const std::size_t base = (user + 1) * 1000000;
    if (step == 0) return {"n = " + std::to_string(base) + "\nn", std::to_string(base)};
    return {"n += 1\nn", std::to_string(base + step)};
}

std::string random_uuid() {
    std::string hex = protocol::random_hex(16);
    hex[12] = '4';                                           // version 4
    hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
    return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' + hex.substr(16, 4) + '-' +
           hex.substr(20);
}

}  // namespace ci::bench
