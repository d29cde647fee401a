#pragma once
// Storage provider: a private workspace volume of a fixed size per worker, made on the host.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "code_interpreter/plugin/context.hpp"
#include "code_interpreter/plugin/result.hpp"

namespace ci::plugin {

struct Volume {
    std::string worker_id;
    std::string host_path;  // directory to mount as the worker's workspace
};

class StorageProvider {
public:
    virtual ~StorageProvider() = default;
    virtual Result<Volume> allocate(const std::string& worker_id, std::uint64_t size_mb) = 0;
    // Frees everything allocate made. Releasing an unknown worker's volume succeeds.
    virtual Status release(const std::string& worker_id) = 0;
    // Worker ids whose volumes exist now (used to remove leftovers of a previous run).
    virtual Result<std::vector<std::string>> list_volumes() = 0;
};

using StorageFactory = std::unique_ptr<StorageProvider>(const PluginContext&);

}  // namespace ci::plugin
