#pragma once
#include <sys/types.h>

// Bare ipykernels in the worker image, one container each, reached over ipc sockets in a
// bind-mounted host directory. Owns everything it makes: the destructor removes every container
// and the temporary directory, whatever happened before.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "code_interpreter/agent/connection_info.hpp"

namespace ci::bench {

struct ContainerLimits {
    std::string image = "code-interpreter-worker:latest";
    std::string cpus = "1.0";  // the gateway's worker.cpu default
    int memory_mb = 1024;      // the gateway's worker.ram_mb default
    std::vector<std::string> kernel_options;  // after "ipykernel_launcher -f FILE"
};

class KernelContainers {
public:
    explicit KernelContainers(ContainerLimits limits);
    ~KernelContainers();
    KernelContainers(const KernelContainers&) = delete;
    KernelContainers& operator=(const KernelContainers&) = delete;

    // Starts kernel number index; returns where the host reaches it.
    agent::ConnectionInfo start(std::size_t index);

private:
    ContainerLimits limits_;
    std::filesystem::path dir_;
    // The image's sandbox user (its code-interpreter.kernel-ids label): the kernel runs
    // unprivileged, as it does in a worker.
    uid_t uid_ = 0;
    gid_t gid_ = 0;
    std::vector<std::string> names_;  // recorded before each docker run, so a half-made one is removed too
};

// Runs argv (a program on PATH) and returns its exit status; stdout is discarded.
int run_quietly(const std::vector<std::string>& argv, bool discard_stderr);

}  // namespace ci::bench
