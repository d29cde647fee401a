// The link between the agent and the kernel's supervisor (kernel_link.hpp), in one process: what
// each message carries, how an end looks, and who may connect in a pod.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "code_interpreter/agent/kernel_link.hpp"

namespace ci::agent {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(AgentKernelLink, TheStartReportCarriesTheConnectionAndTheFileServersSocket) {
    auto [agent, supervisor] = make_link_pair();
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    UniqueFd pipe_read(pipe_fds[0]), pipe_write(pipe_fds[1]);
    send_started(supervisor.get(), ConnectionInfo{"/run/ci-pod/kernel", "k3y"}, pipe_write.get());
    pipe_write.reset();

    StartReport report = receive_start(agent.get(), 1s);
    EXPECT_EQ(report.connection.kernel_dir, "/run/ci-pod/kernel");
    EXPECT_EQ(report.connection.key, "k3y");
    ASSERT_TRUE(report.file_server);
    EXPECT_EQ(::fcntl(report.file_server.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    // The same pipe: what is written on the received descriptor comes out of the original's peer.
    ASSERT_EQ(::write(report.file_server.get(), "x", 1), 1);
    char c = 0;
    ASSERT_EQ(::read(pipe_read.get(), &c, 1), 1);
    EXPECT_EQ(c, 'x');
}

TEST(AgentKernelLink, AFailedStartIsThrownWithTheSupervisorsReason) {
    auto [agent, supervisor] = make_link_pair();
    send_failed(supervisor.get(), "cannot enter workdir /sandbox: No such file or directory");
    try {
        receive_start(agent.get(), 1s);
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("kernel start-up failed: cannot enter workdir /sandbox"));
    }
}

TEST(AgentKernelLink, SilenceOrAClosedLinkIsNoStart) {
    auto [agent, supervisor] = make_link_pair();
    EXPECT_THROW(receive_start(agent.get(), 50ms), std::runtime_error);
    supervisor.reset();
    try {
        receive_start(agent.get(), 1s);
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("closed the link without a report"));
    }
}

TEST(AgentKernelLink, AStartReportWithoutTheSocketIsRefused) {
    auto [agent, supervisor] = make_link_pair();
    const std::string forged = R"({"started":{"kernel_dir":"/k","key":"x"}})";
    ASSERT_EQ(::send(supervisor.get(), forged.data(), forged.size(), 0),
              static_cast<ssize_t>(forged.size()));
    EXPECT_THROW(receive_start(agent.get(), 1s), std::runtime_error);
}

TEST(AgentKernelLink, TheEndIsTheKernelsStatusOrTheLinksClose) {
    {
        auto [agent, supervisor] = make_link_pair();
        EXPECT_FALSE(receive_end(agent.get(), 0ms));  // still running
        send_exit(supervisor.get(), 9);               // wait status: killed by SIGKILL
        const auto end = receive_end(agent.get(), 1s);
        ASSERT_TRUE(end);
        ASSERT_TRUE(end->wait_status);
        EXPECT_EQ(describe(*end), "signal 9");
    }
    {
        auto [agent, supervisor] = make_link_pair();
        supervisor.reset();  // the supervisor was killed before it could say anything
        const auto end = receive_end(agent.get(), 1s);
        ASSERT_TRUE(end);
        EXPECT_FALSE(end->wait_status);
        EXPECT_EQ(describe(*end), "its supervisor ended without a status");
    }
}

TEST(AgentKernelLink, TheSupervisorSeesTheAgentShutItsEnd) {
    auto [agent, supervisor] = make_link_pair();
    ASSERT_EQ(::shutdown(agent.get(), SHUT_WR), 0);
    char c;
    EXPECT_EQ(::recv(supervisor.get(), &c, 1, MSG_DONTWAIT), 0);  // end of file, not EAGAIN
    // ...and can still answer with the kernel's status.
    send_exit(supervisor.get(), 0);
    const auto end = receive_end(agent.get(), 1s);
    ASSERT_TRUE(end && end->wait_status);
    EXPECT_EQ(describe(*end), "exit status 0");
}

class AgentKernelLinkFile : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/kernel_link_test_XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

TEST_F(AgentKernelLinkFile, AnAgentThatComesLateStillConnects) {
    const auto path = dir_ / "link.sock";
    // The agent's container may start first: it retries until the supervisor listens.
    std::thread supervisor([&] {
        std::this_thread::sleep_for(200ms);
        try {
            accept_link(path, 2s);
        } catch (const std::runtime_error&) {
            // Same uid in this test: refused after the connection, as checked below.
        }
    });
    EXPECT_NO_THROW(connect_link(path, 2s));
    supervisor.join();
}

TEST_F(AgentKernelLinkFile, APeerRunningAsTheKernelUserIsRefusedAndTheFileRemoved) {
    const auto path = dir_ / "link.sock";
    std::thread agent([&] { connect_link(path, 2s); });
    try {
        accept_link(path, 2s);
        FAIL() << "expected the peer to be refused";
    } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("runs as the kernel user"));
    }
    agent.join();
    EXPECT_FALSE(std::filesystem::exists(path));  // nothing else may connect later
}

TEST_F(AgentKernelLinkFile, NoAgentWithinTheTimeoutIsAnError) {
    EXPECT_THROW(accept_link(dir_ / "link.sock", 100ms), std::runtime_error);
    EXPECT_THROW(connect_link(dir_ / "none.sock", 100ms), std::runtime_error);
}

TEST_F(AgentKernelLinkFile, AnAgentOfAnotherUserIsAccepted) {
    if (::getuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
    const auto path = dir_ / "link.sock";
    std::filesystem::permissions(dir_, std::filesystem::perms::all);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Any uid but ours (whether an account has it does not matter for a connect); the group
        // stays root's, which the socket file (0660) lets in, as the kernel's group does in a pod.
        if (::setuid(65534) != 0) ::_exit(3);
        try {
            UniqueFd link = connect_link(path, 2s);
            ::_exit(receive_end(link.get(), 2s) ? 0 : 4);
        } catch (...) {
            ::_exit(5);
        }
    }
    UniqueFd link = accept_link(path, 2s);
    send_exit(link.get(), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace ci::agent
