#include "code_interpreter/agent/signals.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "code_interpreter/agent/log.hpp"

namespace ci::agent {
namespace {

sigset_t agent_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

}  // namespace

void block_agent_signals() {
    sigset_t set = agent_signals();
    if (int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
        errno = rc;
        throw errno_error("pthread_sigmask");
    }
}

void unblock_all_signals() {
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
}

UniqueFd open_signal_fd() {
    sigset_t set = agent_signals();
    UniqueFd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) throw errno_error("signalfd");
    return fd;
}

std::optional<int> read_signal(const UniqueFd& fd) {
    signalfd_siginfo info{};
    for (;;) {
        ssize_t n = ::read(fd.get(), &info, sizeof info);
        if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
        if (n < 0 && errno == EINTR) continue;
        return std::nullopt;  // EAGAIN: nothing pending
    }
}

}  // namespace ci::agent
