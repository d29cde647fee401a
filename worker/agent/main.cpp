// ci-agent: runs inside a worker container, starts the Jupyter kernel and serves the gateway.
#include <algorithm>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "code_interpreter/agent/log.hpp"
#include "code_interpreter/agent/options.hpp"
#include "code_interpreter/agent/startup.hpp"

int main(int argc, char** argv) {
    using namespace ci::agent;
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (std::ranges::find(args, "--help") != args.end() ||
        std::ranges::find(args, "-h") != args.end()) {
        std::cout << kUsage;
        return 0;
    }
    Options options;
    try {
        options = parse_options(args);
    } catch (const std::invalid_argument& e) {
        log_line(std::string(e.what()) + " (see --help)");
        return 2;
    }
    try {
        return run_agent(options);
    } catch (const std::exception& e) {
        log_line(std::string("error: ") + e.what());
        return 1;
    }
}
