// The MCP endpoint (/mcp, docs/mcp.md) of a real gateway driven by the official MCP tools from npm,
// at the exact versions of tests/mcp/package-lock.json (installed by tests/mcp/install.sh into a
// cache outside the tree): the TypeScript SDK's client (tests/mcp/client_test.mjs: the tools, files,
// progress, cancellation, sessions per user_uuid, auth and the transport's rules) and the
// conformance suite in server mode through a loopback proxy that adds the token
// (tests/mcp/conformance.mjs: every scenario that applies to a tools-only server with our tools).
// Needs Node.js 18+ and npm (scripts/install-deps.sh) and the npm registry or npm's cache.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

namespace fs = std::filesystem;

const std::string kMcpDir = CI_SOURCE_DIR "/tests/mcp";
// A browser origin the gateway is configured to allow (server.cors_allowed_origins): /mcp takes it.
const std::string kAllowedOrigin = "https://agent.example.test";

// Runs command through the shell: its exit status and standard output, with standard error too
// when merge_stderr (else it goes to the test's log).
CommandResult run_capturing(const std::string& command, bool merge_stderr = true) {
    return run_command(merge_stderr ? command + " 2>&1" : command);
}

bool has_line_starting(const std::string& output, const std::string& start) {
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(start, 0) == 0) return true;
    return false;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// tests/mcp/install.sh: the directory holding node_modules, or "" when it failed (its messages
// went to the test's log).
std::string install_npm_packages() {
    auto install = run_capturing("bash " + kMcpDir + "/install.sh", false);
    std::string dir = install.output;
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
    return install.status == 0 && fs::exists(fs::path(dir) / "node_modules/@modelcontextprotocol/sdk/package.json")
               ? dir
               : "";
}

class McpTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        start("mcp", {.min_idle = 1, .max_total = 4, .timeout_s = 90,
                      .server_toml = "cors_allowed_origins = [\"" + kAllowedOrigin + "\"]"});
    }

    static void start(const std::string& name, TestGatewayOptions options) {
        // The npm packages first: the gateway's workers need not wait for a download.
        modules_ = install_npm_packages();
        gateway_ = std::make_unique<TestGateway>(name, options);
        dir_ = fs::temp_directory_path() / ("ci-" + gateway_->instance() + "-" + name);
        fs::create_directories(dir_);
        std::ofstream(dir_ / "user") << kUserToken << "\n";
        ::chmod((dir_ / "user").c_str(), 0600);
    }

    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
        EXPECT_EQ(count_containers(instance), 0) << "containers of " << instance << " left behind";
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    // node SCRIPT --url <gateway>/mcp --token-file <user token> --modules <install dir> [more], bounded in time.
    static CommandResult run_node(const std::string& script, const std::string& more = "") {
        return run_capturing("timeout -k 10 600 node " + kMcpDir + "/" + script + " --url " + gateway_->url("/mcp") +
                             " --token-file " + (dir_ / "user").string() + " --modules " + modules_ + more);
    }

    static inline std::unique_ptr<TestGateway> gateway_;
    static inline fs::path dir_;
    static inline std::string modules_;
};

TEST_F(McpTest, SdkClientPassesEveryCheck) {
    ASSERT_FALSE(modules_.empty()) << "tests/mcp/install.sh did not install the npm packages (see the log above)";
    auto r = run_node("client_test.mjs", " --allowed-origin " + kAllowedOrigin);
    EXPECT_EQ(r.status, 0) << r.output;
    // Each check by name: a run that skipped one (or stopped early) fails here.
    const std::vector<std::string> checks = {
        "initialize: server name and version, protocol 2025-11-25, tools capability only",
        "tools/list: the five tools with descriptions and object input schemas",
        "run_python: state persists across calls (x = 41, then x + 1 gives 42)",
        "run_python: stdout, [stderr] and the last value are text items; no output is \"(no output)\"",
        "run_python: a matplotlib plot comes as an image item holding a PNG",
        "run_python: an exception gives isError with the exception and its traceback",
        "run_python: print() output arrives as progress notifications (onprogress)",
        "run_python: cancelling a running call interrupts it; the session and its state are kept",
        "files: upload text and base64, list, download the same text and bytes back",
        "files: a PNG made by code downloads as an image item",
        "files: GIF, JPEG and WebP files download as image items; other binary files as resources",
        "files: paths outside the workspace are refused",
        "files: a missing file, overwrite false and both text and base64 are refused",
        "reset_session: the next run_python starts from a fresh kernel",
        "auth: a wrong token is refused with 401",
        "auth: X-Auth-Token is accepted as well as Authorization: Bearer",
        "user_uuid: two MCP sessions naming the same user_uuid share variables; terminating one releases it",
        "transport: protocol versions 2025-06-18 and 2025-03-26 are negotiated; an unknown one gets a supported one",
        "transport: a request without Mcp-Session-Id gets 400",
        "transport: an unknown Mcp-Session-Id gets 404",
        "transport: a bad MCP-Protocol-Version header gets 400",
        "transport: Origin http://evil.example gets 403; loopback origins are accepted",
        "user_uuid: a malformed one is refused at initialize with 400",
        "transport: the configured CORS origin " + kAllowedOrigin + " is accepted",
        "transport: GET gets 405 (no server-initiated stream)",
        "transport: DELETE ends the session; its id then gets 404",
    };
    for (const auto& check : checks)
        EXPECT_TRUE(has_line_starting(r.output, "PASS " + check)) << check << "\n" << r.output;
    EXPECT_TRUE(has_line_starting(r.output, std::to_string(checks.size()) + " passed, 0 failed")) << r.output;
    EXPECT_NE(r.output.find("@modelcontextprotocol/sdk 1.32.2"), std::string::npos) << r.output;
}

TEST_F(McpTest, ConformanceSuitePassesTheScenariosThatApply) {
    ASSERT_FALSE(modules_.empty()) << "tests/mcp/install.sh did not install the npm packages (see the log above)";
    auto r = run_node("conformance.mjs");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("@modelcontextprotocol/conformance 0.1.16"), std::string::npos) << r.output;
    const std::vector<std::string> scenarios = {"server-initialize", "ping", "tools-list",
                                                "server-sse-multiple-streams", "dns-rebinding-protection"};
    for (const auto& scenario : scenarios)
        EXPECT_TRUE(has_line_starting(r.output, "PASS conformance " + scenario + ":")) << scenario << "\n" << r.output;
    EXPECT_TRUE(has_line_starting(r.output, std::to_string(scenarios.size()) + " passed, 0 failed")) << r.output;
}

// An MCP session unused for pool.session_idle_timeout ends (its id then gets 404) and releases its
// sandbox session: its own gateway, whose short timeout would end the other tests' sessions.
class McpIdleTest : public McpTest {
protected:
    static void SetUpTestSuite() {
        TestGatewayOptions options{.min_idle = 1, .max_total = 3, .timeout_s = 30};
        options.pool_toml = "session_idle_timeout = 3";
        start("mcp-idle", options);
    }
};

TEST_F(McpIdleTest, AnIdleSessionEndsAndReleasesItsSandboxSession) {
    ASSERT_FALSE(modules_.empty()) << "tests/mcp/install.sh did not install the npm packages (see the log above)";
    auto r = run_node("client_test.mjs", " --idle-timeout 3");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(has_line_starting(r.output, "PASS idle expiry: an MCP session unused for 3 s ends")) << r.output;
    EXPECT_TRUE(has_line_starting(r.output, "1 passed, 0 failed")) << r.output;
}

// Every scenario the baseline leaves out is in docs/mcp.md's "Conformance" section, with its reason.
TEST_F(McpTest, BaselineScenariosAreDocumented) {
    const std::string baseline = read_text(kMcpDir + "/conformance-baseline.yml");
    const std::string doc = read_text(CI_SOURCE_DIR "/docs/mcp.md");
    const auto section = doc.find("\n## Conformance");
    ASSERT_NE(section, std::string::npos) << "docs/mcp.md has no \"## Conformance\" section";
    const std::string conformance = doc.substr(section);
    const std::regex item(R"(\s+-\s+([\w./-]+)\s*#.*)");  // "  - scenario # reason"
    int count = 0;
    std::istringstream lines(baseline);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (!std::regex_match(line, m, item)) continue;
        ++count;
        EXPECT_NE(conformance.find("`" + m[1].str() + "`"), std::string::npos)
            << m[1] << " is not in docs/mcp.md's Conformance section";
    }
    EXPECT_GE(count, 20) << baseline;
}

}  // namespace
}  // namespace ci::test
