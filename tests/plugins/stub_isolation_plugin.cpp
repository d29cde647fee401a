// An isolation plugin that makes no workers, so that unit tests can load an auth plugin through the
// real loader (which requires one isolation plugin) without Docker.
#include <memory>

#include "code_interpreter/plugin/export.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"

namespace {

using namespace ci::plugin;

class StubIsolation final : public IsolationBackend {
public:
    Result<WorkerHandle> create_worker(const WorkerSpec&) override {
        return Result<WorkerHandle>::failure("the stub isolation plugin makes no workers", FailureKind::unavailable);
    }
    Status destroy_worker(const std::string&) override { return Status::success(); }
    Result<std::vector<WorkerHandle>> list_workers() override { return Result<std::vector<WorkerHandle>>::success({}); }
    Result<WorkerStatus> inspect_worker(const std::string&) override {
        return Result<WorkerStatus>::success(WorkerStatus{WorkerState::missing, 0, "no such worker"});
    }
};

PluginInfo info() { return {kAbiVersion, PluginKind::isolation, "stub-isolation", "0"}; }
std::unique_ptr<IsolationBackend> create(const PluginContext&) { return std::make_unique<StubIsolation>(); }

}  // namespace

CI_PLUGIN_EXPORT_INFO(info)
CI_PLUGIN_EXPORT_ISOLATION(create)
