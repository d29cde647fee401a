// The gateway's configuration: parse_config on arbitrary TOML text, then validate, then the
// command-line overrides. The contract is that bad input only ever throws std::invalid_argument;
// any other exception escapes here and libFuzzer reports it as a crash.
//
// Input: TOML text; after a line "#!flags", command-line arguments, one a line.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto parts = ci::fuzz::split({reinterpret_cast<const char*>(data), size}, "\n#!flags\n");
    std::vector<std::string> args = {"ci-gateway"};
    if (parts.size() > 1) {
        auto flags = ci::fuzz::split(parts[1], "\n");
        args.insert(args.end(), flags.begin(), flags.end());
    }
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());

    try {
        ci::GatewayConfig config = ci::parse_config(parts[0], "/etc/code-interpreter");
        ci::validate(config);
        ci::CommandLine cli = ci::parse_command_line(static_cast<int>(argv.size()), argv.data());
        ci::apply_overrides(config, cli);
        ci::validate(config);
    } catch (const std::invalid_argument&) {
        // the documented way to refuse a configuration
    }
    return 0;
}
