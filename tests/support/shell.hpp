#pragma once
// Host commands for tests (docker CLI, mount...): their exit status and standard output.
#include <string>
#include <vector>

namespace ci::test {

struct CommandResult {
    int status = -1;     // exit status; -1 when it could not run or was killed
    std::string output;  // standard output (standard error goes to the test's log)
};

CommandResult run_command(const std::string& command);
// Standard output of a command that must succeed; throws std::runtime_error otherwise.
std::string command_output(const std::string& command);
// text's non-empty lines.
std::vector<std::string> lines_of(const std::string& text);

}  // namespace ci::test
