// examples/python_client.py against a real gateway: its self-check runs every client call (execute,
// stream, interrupt, files, release, status) and exits non-zero on any answer that differs from
// what docs/api.md promises.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "test_gateway.hpp"

namespace ci::test {
namespace {

namespace fs = std::filesystem;

struct ProcessRun {
    int status = -1;
    std::string output;  // standard output and standard error together
};

// Runs command through the shell; its exit status and everything it printed.
ProcessRun run_capturing(const std::string& command) {
    ProcessRun out;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return out;
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.output.append(buf.data(), n);
    int raw = pclose(pipe);
    out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return out;
}

class PythonClientTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>("pyclient", TestGatewayOptions{.min_idle = 1, .max_total = 3, .timeout_s = 90});
        dir_ = fs::temp_directory_path() / ("ci-" + gateway_->instance() + "-tokens");
        fs::create_directories(dir_);
        write_secret(dir_ / "user", kUserToken);
        write_secret(dir_ / "admin", kAdminToken);
        write_secret(dir_ / "wrong", "not-the-token");
    }

    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
        EXPECT_EQ(count_containers(instance), 0) << "containers of " << instance << " left behind";
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    static void write_secret(const fs::path& path, const std::string& text) {
        std::ofstream(path) << text << "\n";
        ::chmod(path.c_str(), 0600);
    }

    static ProcessRun client(const std::string& token_file, const std::string& extra) {
        return run_capturing("/usr/bin/python3 " CI_SOURCE_DIR "/examples/python_client.py --url " + gateway_->url("") +
                   " --token-file " + (dir_ / token_file).string() + " " + extra);
    }

    static inline std::unique_ptr<TestGateway> gateway_;
    static inline fs::path dir_;
};

TEST_F(PythonClientTest, SelfCheckPassesAgainstARealGateway) {
    auto r = client("user", "--admin-token-file " + (dir_ / "admin").string() + " --self-check");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("self-check passed"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("FAIL"), std::string::npos) << r.output;
    // The checks that matter ran (a run that skipped them would pass with fewer).
    for (const char* step : {"variables persist", "the stream ends with one result", "multipart upload",
                             "binary files come back intact", "interrupt stops a running execution",
                             "variables survive an interrupt", "status with the admin token",
                             "release without a session -> 404 not_found"})
        EXPECT_NE(r.output.find(std::string("ok    ") + step), std::string::npos) << step << "\n" << r.output;
}

TEST_F(PythonClientTest, DemoPrintsWhatTheKernelAnswered) {
    auto r = client("user", "");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(">>> print(x * 2)\n42\n"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("ZeroDivisionError: division by zero"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("files in data/: blob.bin, hello.txt"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("demo passed"), std::string::npos) << r.output;
}

// The self-check can fail: with a wrong token every call is refused and it says so.
TEST_F(PythonClientTest, SelfCheckFailsWhenTheGatewayRefuses) {
    auto r = client("wrong", "--self-check");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("self-check FAILED"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("401 unauthorized"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ci::test
