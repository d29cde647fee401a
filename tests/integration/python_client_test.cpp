// The Python client package (clients/python) against a real gateway: its unittest suite with the
// real-service tests switched on (none may be skipped), an offline pip install of the package into
// a directory and an import from there, and examples/agent_loop.py end to end.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

namespace fs = std::filesystem;

// Debian's interpreter, the one the package promises to work with (not whatever is first on PATH).
constexpr const char* kPython = "/usr/bin/python3";
const std::string kPackageDir = CI_SOURCE_DIR "/clients/python";

// Runs command through the shell; its exit status and everything it printed.
CommandResult run_capturing(const std::string& command) { return run_command(command + " 2>&1"); }

// A loopback port nobody listens on now: the Python suite's fake object store takes it, and the
// gateway is told before it starts that it may reach it (files.url_allowed_private_hosts).
int free_loopback_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    int port = -1;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0) ::close(fd);
    return port;
}

bool has_line(const std::string& output, const std::string& start, const std::string& end) {
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(start, 0) == 0 && line.size() >= end.size() &&
            line.compare(line.size() - end.size(), end.size(), end) == 0)
            return true;
    return false;
}

class PythonClientTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        store_port_ = free_loopback_port();
        ASSERT_GT(store_port_, 0);
        gateway_ = std::make_unique<TestGateway>(
            "pyclient", TestGatewayOptions{.min_idle = 1, .max_total = 3, .timeout_s = 90,
                                           .extra_toml = "[files]\nurl_allowed_private_hosts = [\"127.0.0.1:" +
                                                         std::to_string(store_port_) + "\"]\n"});
        dir_ = fs::temp_directory_path() / ("ci-" + gateway_->instance() + "-pyclient");
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

    static std::string url() { return gateway_->url(""); }

    // The environment that points the package's real-service tests at this gateway. No
    // bytecode is written: the suite runs from the source tree.
    static std::string live_env() {
        return "CI_GATEWAY_URL=" + url() + " CI_USER_TOKEN_FILE=" + (dir_ / "user").string() +
               " CI_ADMIN_TOKEN_FILE=" + (dir_ / "admin").string() + " CI_URL_STORE_PORT=" +
               std::to_string(store_port_) + " PYTHONDONTWRITEBYTECODE=1";
    }

    static inline std::unique_ptr<TestGateway> gateway_;
    static inline fs::path dir_;
    static inline int store_port_ = -1;
};

TEST_F(PythonClientTest, PackageSuitePassesAgainstARealGateway) {
    // PYTHONPATH: the source tree's package, even where an older copy is installed.
    auto r = run_capturing("cd " + kPackageDir + " && " + live_env() + " PYTHONPATH=" + kPackageDir + "/src " +
                           kPython + " -m unittest discover -s tests -t . -v");
    EXPECT_EQ(r.status, 0) << r.output;
    std::smatch ran;
    ASSERT_TRUE(std::regex_search(r.output, ran, std::regex("Ran (\\d+) tests")) ) << r.output;
    EXPECT_GE(std::stoi(ran[1]), 40) << r.output;  // the unit tests and the real-service ones
    EXPECT_TRUE(has_line(r.output, "OK", "OK")) << r.output;
    // With the environment set nothing may be skipped: a skipped real-service test would pass
    // without having talked to the gateway.
    EXPECT_EQ(r.output.find("skipped"), std::string::npos) << r.output;
    for (const char* test : {"test_health", "test_state_persists_between_runs", "test_an_exception_is_result_error",
                             "test_a_matplotlib_plot_comes_as_png_bytes", "test_streaming_delivers_output_as_it_happens",
                             "test_interrupt_from_another_thread", "test_release_on_context_exit", "test_refusals",
                             "test_files_round_trip", "test_presigned_url_transfers_both_ways",
                             "test_status_with_the_admin_token"})
        EXPECT_TRUE(has_line(r.output, std::string(test) + " (tests.test_live.", "... ok")) << test << "\n" << r.output;
}

TEST_F(PythonClientTest, PackageInstallsOfflineAndImportsFromTheTarget) {
    char pattern[] = "/tmp/ci-pyclient-install-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    const fs::path tmp = pattern;
    // Built from a copy: an in-tree build would leave build/ and *.egg-info in the source tree.
    fs::copy(kPackageDir, tmp / "src", fs::copy_options::recursive);
    auto install = run_capturing("PIP_DISABLE_PIP_VERSION_CHECK=1 " + std::string(kPython) +
                                 " -m pip install --no-build-isolation --no-index --no-cache-dir --target " +
                                 (tmp / "site").string() + " " + (tmp / "src").string());
    EXPECT_EQ(install.status, 0) << install.output;
    EXPECT_TRUE(fs::exists(tmp / "site" / "code_interpreter_client" / "py.typed")) << install.output;

    // Imported from the target alone (run from / so the source tree is not on the path), then
    // one call to the gateway with it.
    auto use = run_capturing(
        "cd / && PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=" + (tmp / "site").string() + " " + kPython +
        " -c 'import code_interpreter_client as c\n"
        "print(c.__file__)\n"
        "client = c.Client.from_token_files(\"" + url() + "\", \"" + (dir_ / "user").string() + "\")\n"
        "with client.session() as s:\n"
        "    print(\"answer\", s.run(\"print(6 * 7)\").stdout.strip())'");
    EXPECT_EQ(use.status, 0) << use.output;
    EXPECT_NE(use.output.find((tmp / "site" / "code_interpreter_client" / "__init__.py").string()), std::string::npos)
        << use.output;
    EXPECT_NE(use.output.find("answer 42"), std::string::npos) << use.output;
    std::error_code ec;
    fs::remove_all(tmp, ec);
}

TEST_F(PythonClientTest, AgentLoopExampleRunsEveryStep) {
    const fs::path out = dir_ / "agent-out";
    auto r = run_capturing("PYTHONDONTWRITEBYTECODE=1 " + std::string(kPython) + " " CI_SOURCE_DIR
                           "/examples/agent_loop.py --url " + url() + " --token-file " + (dir_ / "user").string() +
                           " --out-dir " + out.string());
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("error: KeyError: 'regoin'"), std::string::npos) << r.output;  // it saw its slip
    EXPECT_NE(r.output.find("agent loop finished: 7 steps"), std::string::npos) << r.output;
    std::ifstream csv(out / "margin_by_region.csv");
    std::stringstream content;
    content << csv.rdbuf();
    EXPECT_EQ(content.str(), "region,margin\neast,20\nnorth,110\nsouth,70\n");
    std::ifstream png(out / "image-1.png", std::ios::binary);
    std::string signature(8, '\0');
    png.read(signature.data(), 8);
    EXPECT_EQ(signature, std::string("\x89PNG\r\n\x1a\n", 8));
}

// The example can fail: with a wrong token the first call is refused and it exits 1.
TEST_F(PythonClientTest, AgentLoopFailsWhenTheGatewayRefuses) {
    auto r = run_capturing("PYTHONDONTWRITEBYTECODE=1 " + std::string(kPython) + " " CI_SOURCE_DIR
                           "/examples/agent_loop.py --url " + url() + " --token-file " + (dir_ / "wrong").string() +
                           " --out-dir " + (dir_ / "agent-refused").string());
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("agent loop FAILED at step 1: AuthenticationError"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("401 unauthorized"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ci::test
