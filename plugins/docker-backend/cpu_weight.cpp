#include "cpu_weight.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "code_interpreter/fd/unique_fd.hpp"

namespace ci::docker {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::stringstream stream(text);
    for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
    return parts;
}

}  // namespace

std::optional<CpuController> find_cpu_controller(std::string_view mountinfo) {
    std::optional<CpuController> unified;
    std::istringstream lines{std::string(mountinfo)};
    for (std::string line; std::getline(lines, line);) {
        // "<id> <parent> <dev> <root> <mount point> <options> [optional...] - <type> <source> <super options>"
        const std::size_t dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        const auto before = split(line.substr(0, dash), ' ');
        const auto after = split(line.substr(dash + 3), ' ');
        if (before.size() < 5 || after.size() < 3) continue;
        if (after[0] == "cgroup") {
            for (const auto& option : split(after[2], ','))
                if (option == "cpu") return CpuController{before[4], false};
        } else if (after[0] == "cgroup2" && !unified) {
            unified = CpuController{before[4], true};
        }
    }
    return unified;
}

std::optional<CpuController> host_cpu_controller() {
    std::ifstream in("/proc/self/mountinfo");
    return find_cpu_controller(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

ci::plugin::Status set_default_cpu_weight(const CpuController& controller, const std::string& container_id) {
    // A Docker container id is 64 lowercase hex characters: nothing else goes into the path.
    if (container_id.size() != 64 ||
        container_id.find_first_not_of("0123456789abcdef") != std::string::npos)
        return ci::plugin::Status::failure("not a container id: '" + container_id + "'");
    const char* file = controller.unified ? "cpu.weight" : "cpu.shares";
    const std::string value = controller.unified ? "100" : "1024";
    for (const auto& dir : {controller.mount / "docker" / container_id,
                            controller.mount / "system.slice" / ("docker-" + container_id + ".scope")}) {
        const std::string path = (dir / file).string();
        ci::fd::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd) {
            if (errno == ENOENT) continue;
            return ci::plugin::Status::failure("opening " + path + ": " + std::strerror(errno));
        }
        if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
            return ci::plugin::Status::failure("writing " + path + ": " + std::strerror(errno));
        return ci::plugin::Status::success();
    }
    return ci::plugin::Status::failure("no cpu cgroup of container " + container_id + " under " +
                                       controller.mount.string());
}

}  // namespace ci::docker
