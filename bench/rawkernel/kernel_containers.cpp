#include "kernel_containers.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "code_interpreter/crypto/crypto.hpp"

extern char** environ;

namespace ci::bench {
namespace {

constexpr const char* kMountPoint = "/conn";

// "uid:gid" of the image's label code-interpreter.kernel-ids (docker/Dockerfile sets it).
std::pair<uid_t, gid_t> kernel_ids(const std::string& image) {
    const std::string command = "docker image inspect -f '{{index .Config.Labels \"code-interpreter.kernel-ids\"}}' " + image;
    std::unique_ptr<FILE, decltype(&::pclose)> pipe(::popen(command.c_str(), "r"), ::pclose);
    char text[64] = {};
    if (!pipe || !std::fgets(text, sizeof text, pipe.get()))
        throw std::runtime_error("cannot read the kernel ids of " + image + " (" + command + ")");
    unsigned long uid = 0, gid = 0;
    if (std::sscanf(text, "%lu:%lu", &uid, &gid) != 2)
        throw std::runtime_error(image + " has no code-interpreter.kernel-ids label: rebuild it with docker/build-image.sh");
    return {static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
}

}  // namespace

int run_quietly(const std::vector<std::string>& argv, bool discard_stderr) {
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (discard_stderr) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    // The child inherits the blocked SIGINT/SIGTERM: a ctrl-C must not cut a docker rm short.
    int error = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(error));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

KernelContainers::KernelContainers(ContainerLimits limits) : limits_(std::move(limits)) {
    std::tie(uid_, gid_) = kernel_ids(limits_.image);
    std::string pattern = (std::filesystem::temp_directory_path() / "ci-bench-raw-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    dir_ = pattern;
}

KernelContainers::~KernelContainers() {
    if (!names_.empty()) {
        std::vector<std::string> argv = {"docker", "rm", "-f"};
        argv.insert(argv.end(), names_.begin(), names_.end());
        try {
            run_quietly(argv, true);  // names never created are expected here
        } catch (...) {
        }
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

agent::ConnectionInfo KernelContainers::start(std::size_t index) {
    const std::filesystem::path host_dir = dir_ / ("k" + std::to_string(index));
    std::filesystem::create_directory(host_dir);
    const std::string key = crypto::random_hex(32);
    // The kernel binds its sockets under the path it sees; the host connects to the same files.
    agent::ConnectionInfo inside{kMountPoint, key};
    {
        std::ofstream out(host_dir / inside.connection_file().filename());
        out << inside.to_json().dump(2) << '\n';
        if (!out) throw std::runtime_error("cannot write the connection file in " + host_dir.string());
    }
    for (const auto& path : {host_dir, host_dir / "kernel.json"})
        if (::chown(path.c_str(), uid_, gid_) != 0)
            throw std::runtime_error("chown " + path.string() + ": " + std::strerror(errno));

    const std::string name = "ci-bench-raw-" + std::to_string(::getpid()) + "-" + std::to_string(index);
    names_.push_back(name);
    const std::string memory = std::to_string(limits_.memory_mb) + "m";
    // The local image only (no registry traffic), network none, the sandbox user, the worker's CPU
    // and memory limits and Docker's init as PID 1.
    // The home (where IPython writes its history) stays on the container's disk, as a plain
    // docker run has it and as a worker's loop-disk volume is: a tmpfs would hide the history cost.
    const std::string user = std::to_string(uid_) + ":" + std::to_string(gid_);
    std::vector<std::string> argv = {"docker", "run", "-d", "--pull", "never", "--name", name,
                              "--label", "code-interpreter.bench=rawkernel",
                              "--network", "none", "--init", "--user", user,
                              "--cpus", limits_.cpus, "--memory", memory, "--memory-swap", memory, "--pids-limit", "256",
                              "-e", "HOME=/sandbox", "-e", "PYTHONDONTWRITEBYTECODE=1", "-w", "/sandbox",
                              "-v", host_dir.string() + ":" + kMountPoint,
                              "--entrypoint", "/usr/bin/python3", limits_.image,
                              "-m", "ipykernel_launcher", "-f", inside.connection_file().string()};
    argv.insert(argv.end(), limits_.kernel_options.begin(), limits_.kernel_options.end());
    int status = run_quietly(argv, false);
    if (status != 0) throw std::runtime_error("docker run for " + name + " failed (exit status " + std::to_string(status) + ")");
    return agent::ConnectionInfo{host_dir, key};
}

}  // namespace ci::bench
