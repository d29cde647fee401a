#include "code_interpreter/agent/options.hpp"

#include <sys/un.h>

#include <optional>
#include <stdexcept>
#include <utility>

namespace ci::agent {
namespace {

// sun_path holds the socket path with its terminating NUL.
constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1;

void require_absolute(std::string_view option, const std::string& value) {
    if (value.empty() || value.front() != '/')
        throw std::invalid_argument("--" + std::string(option) + " must be an absolute path");
}

void require_socket_path_fits(std::string_view option, const std::string& socket_path) {
    if (socket_path.size() > kMaxSocketPath)
        throw std::invalid_argument("--" + std::string(option) + " is too long: " + socket_path +
                                    " exceeds " + std::to_string(kMaxSocketPath) + " bytes");
}

}  // namespace

Options parse_options(const std::vector<std::string>& args) {
    Options options;
    const std::pair<std::string_view, std::string*> fields[] = {
        {"run-dir", &options.run_dir},       {"agent-user", &options.agent_user},
        {"kernel-user", &options.kernel_user}, {"kernel-dir", &options.kernel_dir},
        {"workdir", &options.workdir},       {"python", &options.python},
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (!arg.starts_with("--")) throw std::invalid_argument("unexpected argument: " + args[i]);
        std::string_view name = arg.substr(2);
        std::optional<std::string> value;
        if (auto eq = name.find('='); eq != std::string_view::npos) {
            value = std::string(name.substr(eq + 1));
            name = name.substr(0, eq);
        }
        std::string* target = nullptr;
        for (const auto& [field, destination] : fields)
            if (field == name) target = destination;
        if (!target) throw std::invalid_argument("unknown option: --" + std::string(name));
        if (!value) {
            if (i + 1 == args.size())
                throw std::invalid_argument("--" + std::string(name) + " needs a value");
            value = args[++i];
        }
        if (value->empty())
            throw std::invalid_argument("--" + std::string(name) + " needs a non-empty value");
        *target = std::move(*value);
    }
    require_absolute("run-dir", options.run_dir);
    require_absolute("kernel-dir", options.kernel_dir);
    require_absolute("workdir", options.workdir);
    require_absolute("python", options.python);
    require_socket_path_fits("run-dir", options.run_dir + "/agent.sock");
    // The longest kernel socket is "<kernel-dir>/k-<one digit port>".
    require_socket_path_fits("kernel-dir", options.kernel_dir + "/k-1");
    if (options.agent_user == options.kernel_user)
        throw std::invalid_argument(
            "--agent-user and --kernel-user must differ: user code must not reach the agent");
    return options;
}

}  // namespace ci::agent
