#pragma once
// Starts a real gateway in the test process: real plugins, real dockerd, real worker image.
// Each instance has its own label so tests never touch other workers.
#include <memory>
#include <string>

#include "gateway.hpp"

namespace ci::test {

inline constexpr const char* kUserToken = "test-user-token-0123456789abcdef";
inline constexpr const char* kAdminToken = "test-admin-token-0123456789abcdef";

struct TestGatewayOptions {
    int min_idle = 1;
    int max_total = 4;
    double timeout_s = 5;
    std::string worker_toml;     // more keys of [worker]
    // The workers import worker.preload's default modules; off, they import none (faster to make:
    // the preload has its own tests, the others need no modules ready).
    bool preload = false;
    // The idle target follows crowds of new sessions (pool.arrival_window); off, it stays at
    // min_idle, which is what most tests count on.
    bool follow_arrivals = false;
    std::string extra_toml;    // gateway settings, before the plugin tables
    std::string server_toml;   // more keys of [server]
    std::string pool_toml;       // more keys of [pool]
    std::string execution_toml;  // more keys of [execution]
    std::string backend_toml;  // more keys of [plugins.docker-backend]
    std::string auth_toml;     // more keys of [plugins.auth-token]
    std::string isolation_toml;  // set: this plugin table instead of the docker backend's
    std::string plugins_toml;  // more plugin tables
    std::string loop_disk_toml;  // more keys of [plugins.loop-disk]
    bool loop_disk = true;     // workspaces on loop-disk volumes (else the backend's tmpfs)
    double drain_timeout_s = 2;  // stop waits this long for running executions
    bool keep_workers_on_stop = false;
};

// `image = "<$CI_TEST_WORKER_IMAGE>"` for the docker backend's table when that variable is set (to
// run the tests against a differently tagged worker image), else nothing. A gateway whose
// backend_toml names an image keeps that one.
std::string worker_image_setting();
// "t<pid>-<name>": the instance label of a test gateway named name.
std::string instance_name(const std::string& name);
// The configuration a test gateway of that instance runs with.
std::string gateway_toml(const std::string& instance, const TestGatewayOptions& options);

class TestGateway {
public:
    explicit TestGateway(const std::string& name, TestGatewayOptions options = {});
    ~TestGateway();
    std::string url(const std::string& path) const;
    const std::string& instance() const { return instance_; }
    // The pool state file: one per instance, so a second TestGateway of the same name adopts.
    std::string state_file() const;
    void stop();

private:
    std::string instance_;
    std::unique_ptr<Gateway> gateway_;
};

// Containers and networks labelled with this instance, as the docker CLI lists them.
int count_containers(const std::string& instance);
int count_networks(const std::string& instance);
std::string run_dir_of(const std::string& instance);
std::string state_file_of(const std::string& instance);
// Mounts, loop devices and volume images of this instance's default loop-disk directories, one
// per line; empty when none is left.
std::string volume_leftovers(const std::string& instance);

}  // namespace ci::test
