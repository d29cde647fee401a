// The agent's start-up pieces that run without root: options, key file, connection file,
// readiness and the child-process owner.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "code_interpreter/agent/connection_info.hpp"
#include "code_interpreter/agent/kernel_process.hpp"
#include "code_interpreter/agent/key_file.hpp"
#include "code_interpreter/agent/options.hpp"
#include "code_interpreter/agent/readiness.hpp"

namespace ci::agent {
namespace {

using nlohmann::json;

TEST(AgentOptions, DefaultsMatchTheWorkerImageLayout) {
    Options options = parse_options({});
    EXPECT_EQ(options.run_dir, "/run/ci");
    EXPECT_EQ(options.agent_user, "ci-agent");
    EXPECT_EQ(options.kernel_user, "sandbox");
    EXPECT_EQ(options.kernel_dir, "/tmp/ci-kernel");
    EXPECT_EQ(options.workdir, "/sandbox");
    EXPECT_EQ(options.python, "/usr/bin/python3");
}

TEST(AgentOptions, AcceptsSeparateAndInlineValues) {
    Options options = parse_options({"--run-dir", "/r", "--agent-user=a", "--kernel-user", "k",
                                     "--kernel-dir=/kd", "--workdir", "/w", "--python=/p"});
    EXPECT_EQ(options.run_dir, "/r");
    EXPECT_EQ(options.agent_user, "a");
    EXPECT_EQ(options.kernel_user, "k");
    EXPECT_EQ(options.kernel_dir, "/kd");
    EXPECT_EQ(options.workdir, "/w");
    EXPECT_EQ(options.python, "/p");
}

TEST(AgentOptions, RejectsBadArguments) {
    const std::vector<std::vector<std::string>> bad = {
        {"--bogus", "x"},
        {"stray"},
        {"--run-dir"},
        {"--workdir="},
        {"--python", "python3"},
        {"--kernel-dir", "/" + std::string(120, 'k')},
        {"--run-dir", "/" + std::string(100, 'r')},
        {"--agent-user", "same", "--kernel-user", "same"},
    };
    for (const auto& args : bad)
        EXPECT_THROW(parse_options(args), std::invalid_argument) << args.front();
}

TEST(AgentOptions, PreloadIsAListOfModuleNamesForTheKernelsSide) {
    EXPECT_TRUE(parse_options({}).preload.empty());
    EXPECT_EQ(parse_options({"--preload", "numpy,matplotlib.pyplot"}).preload,
              (std::vector<std::string>{"numpy", "matplotlib.pyplot"}));
    EXPECT_EQ(parse_options({"--role=kernel", "--kernel-link=/run/ci-pod/link.sock", "--preload=pandas"}).preload,
              std::vector<std::string>{"pandas"});
    for (const char* bad : {"numpy,", ",numpy", "numpy,,pandas", "numpy;os", "a b", "numpy,numpy", "1abc", "a..b"})
        EXPECT_THROW(parse_options({"--preload", bad}), std::invalid_argument) << bad;
    EXPECT_THROW(parse_options({"--role", "agent", "--kernel-link", "/run/ci-pod/link.sock", "--listen",
                                "tcp://0.0.0.0:7000", "--firewall", "cluster", "--key-env", "K", "--preload", "numpy"}),
                 std::invalid_argument);
}

TEST(AgentOptions, PreloadBecomesOneKernelOptionThatBindsNoName) {
    EXPECT_TRUE(preload_options({}).empty());
    EXPECT_EQ(preload_options({"numpy", "matplotlib.pyplot"}),
              std::vector<std::string>{
                  "--IPKernelApp.exec_lines=__import__('ci_kernel').preload(['numpy','matplotlib.pyplot',])"});
    EXPECT_THROW(preload_options({"x')"}), std::invalid_argument);
}

TEST(AgentOptions, PodRolesTakeTheirOwnOptions) {
    const Options agent = parse_options({"--role", "agent", "--kernel-link", "/run/ci-pod/link.sock",
                                         "--listen", "tcp://0.0.0.0:7000", "--firewall", "cluster",
                                         "--key-env", "CI_AGENT_KEY"});
    EXPECT_EQ(agent.role, "agent");
    EXPECT_EQ(agent.kernel_link, "/run/ci-pod/link.sock");
    EXPECT_EQ(agent.firewall, "cluster");
    EXPECT_EQ(agent.key_env, "CI_AGENT_KEY");
    const Options kernel = parse_options({"--role=kernel", "--kernel-link=/run/ci-pod/link.sock",
                                          "--kernel-dir=/run/ci-pod/kernel"});
    EXPECT_EQ(kernel.role, "kernel");
    EXPECT_EQ(kernel.kernel_dir, "/run/ci-pod/kernel");
    EXPECT_EQ(parse_options({}).role, "worker");
    EXPECT_EQ(parse_options({"--key-env", "K"}).key_env, "K");  // a worker container may use it too

    const std::vector<std::vector<std::string>> bad = {
        {"--role", "both"},
        {"--role", "kernel"},                                        // no link
        {"--role", "kernel", "--kernel-link", "link.sock"},          // relative
        {"--kernel-link", "/l.sock"},                                // role worker has no link
        {"--role", "kernel", "--kernel-link", "/l", "--listen", "tcp://0.0.0.0:7000"},
        {"--role", "kernel", "--kernel-link", "/l", "--key-env", "K"},
        // The pod's agent: TCP, the cluster's firewall and the key from the environment, all three.
        {"--role", "agent", "--kernel-link", "/l", "--firewall", "cluster", "--key-env", "K"},
        {"--role", "agent", "--kernel-link", "/l", "--listen", "tcp://0.0.0.0:7000", "--key-env", "K"},
        {"--role", "agent", "--kernel-link", "/l", "--listen", "tcp://0.0.0.0:7000", "--firewall",
         "cluster"},
        {"--role", "agent", "--kernel-link", "/l", "--listen", "tcp://0.0.0.0:7000", "--firewall",
         "cluster", "--key-env", "K", "--allow-from", "10.0.0.1"},
        {"--role", "agent", "--kernel-link", "/l", "--listen", "tcp://0.0.0.0:7000", "--firewall",
         "cluster", "--key-env", "K", "--egress", "internet"},
        // A worker container keeps its own firewall.
        {"--listen", "tcp://0.0.0.0:7000", "--firewall", "cluster"},
        {"--firewall", "none"},
    };
    for (const auto& args : bad) {
        std::string joined;
        for (const auto& a : args) joined += a + " ";
        EXPECT_THROW(parse_options(args), std::invalid_argument) << joined;
    }
}

class AgentKeyFile : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/agent_key_test_XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path write(const std::string& text, mode_t mode) {
        auto path = dir_ / "agent.key";
        std::ofstream(path) << text;
        ::chmod(path.c_str(), mode);
        return path;
    }

    std::filesystem::path dir_;
};

TEST_F(AgentKeyFile, StripsTrailingWhitespace) {
    EXPECT_EQ(read_key_file(write("s3cret \n\n", 0600)), "s3cret");
}

TEST_F(AgentKeyFile, RejectsMissingEmptyAndExposedFiles) {
    EXPECT_THROW(read_key_file(dir_ / "missing"), std::system_error);
    EXPECT_THROW(read_key_file(write(" \n", 0600)), std::runtime_error);
    EXPECT_THROW(read_key_file(write("s3cret", 0640)), std::runtime_error);
    EXPECT_THROW(read_key_file(dir_), std::runtime_error);
}

TEST(AgentConnectionInfo, DescribesIpcSocketsInTheKernelDirectory) {
    ConnectionInfo info{"/tmp/ci-kernel", "k3y"};
    EXPECT_EQ(info.connection_file(), "/tmp/ci-kernel/kernel.json");
    EXPECT_EQ(info.endpoint(ConnectionInfo::kShellPort), "ipc:///tmp/ci-kernel/k-1");
    json file = info.to_json();
    EXPECT_EQ(file.at("transport"), "ipc");
    EXPECT_EQ(file.at("ip"), "/tmp/ci-kernel/k");
    EXPECT_EQ(file.at("key"), "k3y");
    EXPECT_EQ(file.at("signature_scheme"), "hmac-sha256");
    EXPECT_EQ(file.at("kernel_name"), "python3");
    std::set<int> ports;
    for (const char* name : {"shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"})
        ports.insert(file.at(name).get<int>());
    EXPECT_EQ(ports.size(), 5u);
}

JupyterMessage reply_to(const std::string& parent, const std::string& type) {
    JupyterMessage m;
    m.header = {{"msg_type", type}};
    m.parent_header = {{"msg_id", parent}};
    return m;
}

TEST(AgentReadiness, NeedsOurKernelInfoReplyAndAnIopubMessageForOurRequest) {
    KernelReadiness readiness;
    readiness.on_request_sent("probe-1");
    readiness.on_request_sent("probe-2");
    readiness.on_shell(reply_to("probe-1", "kernel_info_reply"));
    EXPECT_FALSE(readiness.ready());
    readiness.on_iopub(reply_to("someone-else", "status"));
    EXPECT_FALSE(readiness.ready());
    readiness.on_iopub(reply_to("probe-2", "status"));
    EXPECT_TRUE(readiness.ready());
}

TEST(AgentReadiness, IgnoresRepliesToOtherRequests) {
    KernelReadiness readiness;
    readiness.on_request_sent("probe-1");
    readiness.on_iopub(reply_to("probe-1", "status"));
    readiness.on_shell(reply_to("other", "kernel_info_reply"));
    readiness.on_shell(reply_to("probe-1", "execute_reply"));
    EXPECT_FALSE(readiness.ready());
}

TEST(AgentChildProcess, ReportsTheExitStatus) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ::_exit(3);
    ChildProcess child(pid);
    auto status = child.wait_for(std::chrono::seconds(5));
    ASSERT_TRUE(status);
    EXPECT_EQ(describe_wait_status(*status), "exit status 3");
    EXPECT_EQ(child.try_wait(), status);
}

TEST(AgentChildProcess, DestructorKillsAndReapsARunningChild) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::pause();
        ::_exit(0);
    }
    {
        ChildProcess child(pid);
        EXPECT_FALSE(child.try_wait());
        ChildProcess moved = std::move(child);
        EXPECT_EQ(moved.pid(), pid);
    }
    // Reaped by the destructor: the pid is no longer our child.
    EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

TEST(AgentChildProcess, DescribesDeathBySignal) {
    int status = 0;
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::raise(SIGKILL);
        ::_exit(0);
    }
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_EQ(describe_wait_status(status), "signal 9");
}

}  // namespace
}  // namespace ci::agent
