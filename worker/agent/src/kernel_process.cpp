#include "code_interpreter/agent/kernel_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "code_interpreter/agent/file_server.hpp"
#include "code_interpreter/agent/kernel_link.hpp"
#include "code_interpreter/agent/log.hpp"
#include "code_interpreter/agent/signals.hpp"
#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/preload.hpp"

namespace ci::agent {
namespace {

using namespace std::chrono_literals;

constexpr auto kStopGrace = 2s;     // between SIGTERM and SIGKILL
constexpr auto kReapTimeout = 3s;   // for a child the destructor may not kill: > kStopGrace

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw errno_error("write");
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string read_all(int fd) {
    std::string out;
    char buffer[512];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return out;
        out.append(buffer, static_cast<std::size_t>(n));
    }
}

std::pair<UniqueFd, UniqueFd> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw errno_error("pipe2");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Everything the supervisor and its children need, built before the fork.
struct ChildPlan {
    std::optional<UserAccount> drop_to;  // role worker: the kernel user the supervisor becomes
    std::string kernel_dir;
    std::string connection_file;
    std::string workdir;
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::optional<std::uint64_t> data_limit;
};

// Tells the supervisor why a child's start-up failed, then exits. The supervisor reads until
// every copy of the close-on-exec report pipe is closed: silence means the kernel's exec succeeded.
[[noreturn]] void fail_start(int report, const char* reason) {
    try {
        write_all(report, reason);
    } catch (...) {
    }
    ::_exit(127);
}

// Exits the way the kernel did, so the agent can report the kernel's own status.
[[noreturn]] void exit_like(int status) {
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        rlimit no_core{0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);
        ::signal(sig, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
        ::raise(sig);
    }
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

// The kernel process: its own process group, so the supervisor can stop everything it starts.
[[noreturn]] void exec_kernel(ChildPlan& plan, pid_t supervisor, int report) {
    try {
        if (::setpgid(0, 0) != 0) throw errno_error("setpgid");
        // The user's code may kill the supervisor (same user): the kernel must not outlive it.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw errno_error("PR_SET_PDEATHSIG");
        if (::getppid() != supervisor) throw std::runtime_error("the supervisor exited");
        unblock_all_signals();  // the agent's blocked signals would survive the exec
        auto argv = c_strings(plan.argv);
        auto env = c_strings(plan.env);
        ::execve(argv[0], argv.data(), env.data());
        throw errno_error("cannot execute " + plan.argv[0]);
    } catch (const std::exception& e) {
        fail_start(report, e.what());
    }
}

// Reaps every child that has exited (orphans of the kernel's descendants come here too: the
// supervisor is a child subreaper) and returns the kernel's wait status once it has exited.
std::optional<int> reap_children(pid_t kernel) {
    std::optional<int> kernel_status;
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return kernel_status;
        if (pid == kernel) kernel_status = status;
    }
}

// Waits until the kernel exits, stopping it once the link becomes readable (the agent shut its
// end, or died): SIGTERM to its process group, SIGKILL when kStopGrace has passed. Then reports
// the kernel's status on the link and exits like the kernel. The supervisor's lifetime is what
// owns the kernel process: it never exits without reaping it, and the kernel's PR_SET_PDEATHSIG
// covers the supervisor's death.
[[noreturn]] void supervise(pid_t kernel, int link) {
    // SIGCHLD is blocked (inherited from the agent), so it waits here for the signalfd.
    UniqueFd signals = open_signal_fd();
    std::optional<std::chrono::steady_clock::time_point> kill_at;  // set once stopping
    std::optional<int> status;
    while (!(status = reap_children(kernel))) {
        int timeout = -1;
        if (kill_at) {
            const auto now = std::chrono::steady_clock::now();
            if (now >= *kill_at) {
                ::kill(-kernel, SIGKILL);
                kill_at = now + kStopGrace;
            }
            timeout = static_cast<int>(
                std::chrono::ceil<std::chrono::milliseconds>(*kill_at - now).count());
        }
        // Once stopping, the link is done with: poll ignores a negative fd.
        pollfd fds[] = {{kill_at ? -1 : link, POLLIN, 0}, {signals.get(), POLLIN, 0}};
        int rc = ::poll(fds, 2, timeout);
        if (rc < 0 && errno == EINTR) continue;
        while (read_signal(signals)) {
        }
        if (!kill_at && (rc < 0 || fds[0].revents != 0)) {
            ::kill(-kernel, SIGTERM);
            kill_at = std::chrono::steady_clock::now() + kStopGrace;
        }
    }
    // Whatever the kernel left running in its process group goes with it.
    ::kill(-kernel, SIGKILL);
    send_exit(link, *status);
    exit_like(*status);
}

// Resource limits of the supervisor and the kernel (user code), below the container's own:
// - RLIMIT_CORE 0 (soft and hard): no core files. A core would land in the workspace or be piped
//   to the host's core_pattern helper, outside the container.
// - RLIMIT_DATA data_limit (soft and hard), when there is one (memory_limit.hpp): an allocation
//   past it fails (MemoryError in Python) instead of the container's OOM killer ending the worker.
// - RLIMIT_NOFILE: kept as the container's ulimit (the backend's nofile_limit, soft = hard).
// - RLIMIT_NPROC: not set. It counts processes per real uid across the whole host (workers share
//   no user namespace and every kernel is uid sandbox), so one worker's fork bomb would use up
//   every other worker's allowance. The container's pids cgroup limit is the per-worker guard.
// - RLIMIT_FSIZE: not set. Every writable place is already bounded (tmpfs sizes, the workspace
//   volume), and SIGXFSZ would kill the kernel instead of failing the one write.
void limit_kernel_resources(std::optional<std::uint64_t> data_limit) {
    const rlimit no_core{0, 0};
    if (::setrlimit(RLIMIT_CORE, &no_core) != 0) throw errno_error("setrlimit(RLIMIT_CORE)");
    if (data_limit) {
        const rlimit data{*data_limit, *data_limit};
        if (::setrlimit(RLIMIT_DATA, &data) != 0) throw errno_error("setrlimit(RLIMIT_DATA)");
    }
}

// Forks the file server (file_server.hpp), already the kernel user, with a directory fd of the
// workspace. Returns in the supervisor, whose copies of socket and the workspace fd then close.
void start_file_server(const ChildPlan& plan, UniqueFd socket, UniqueFd& report, UniqueFd& link) {
    UniqueFd workspace(::open(plan.workdir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!workspace) throw errno_error("cannot open workdir " + plan.workdir);
    const pid_t supervisor = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw errno_error("fork");
    if (pid > 0) return;
    link.reset();  // the agent must see the link close when the supervisor goes
    try {
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw errno_error("PR_SET_PDEATHSIG");
        if (::getppid() != supervisor) throw std::runtime_error("the supervisor exited");
        // User code runs as the same user: not dumpable, it cannot ptrace the file server or
        // take its socket through /proc.
        make_undumpable();
        ::umask(022);  // directories it creates are 0755; files get 0644 explicitly
    } catch (const std::exception& e) {
        fail_start(report.get(), (std::string("file server: ") + e.what()).c_str());
    }
    report.reset();
    try {
        serve_files(socket.get(), workspace.get());
    } catch (const std::exception& e) {
        log_line(std::string("file server failed: ") + e.what());
        ::_exit(1);
    }
    ::_exit(0);
}

// The supervisor: becomes the kernel user for good (role worker; in a pod it already is),
// starts the file server, prepares the kernel directory and starts the kernel, then reports on
// the link and supervises.
[[noreturn]] void run_supervisor(ChildPlan& plan, UniqueFd link) {
    try {
        // Only stdio, the link and the close-on-exec pipes and sockets should be open. Best
        // effort: Linux before 5.11 lacks the flag, and the agent opens no inheritable fd of its own.
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        if (plan.drop_to) drop_privileges(plan.drop_to->uid, plan.drop_to->gid, {plan.drop_to->gid});
        limit_kernel_resources(plan.data_limit);
        auto [report_read, report_write] = make_pipe();
        int files[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, files) != 0)
            throw errno_error("socketpair");
        UniqueFd files_agent(files[0]);
        start_file_server(plan, UniqueFd(files[1]), report_write, link);
        // The agent reaches the sockets through the kernel's group; others get nothing.
        ::umask(007);
        if (::mkdir(plan.kernel_dir.c_str(), 0750) != 0) {
            if (errno == EEXIST)
                throw std::runtime_error("kernel directory " + plan.kernel_dir +
                                         " already exists (refusing to reuse it)");
            throw errno_error("cannot create kernel directory " + plan.kernel_dir);
        }
        const ConnectionInfo connection{plan.kernel_dir, crypto::random_hex(32)};
        UniqueFd file(::open(plan.connection_file.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!file) throw errno_error("cannot create " + plan.connection_file);
        write_all(file.get(), connection.to_json().dump(2) + "\n");
        file.reset();
        if (::chdir(plan.workdir.c_str()) != 0)
            throw errno_error("cannot enter workdir " + plan.workdir);
        // Orphans of the user's processes are reaped here, not left to the container's init.
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
            throw errno_error("PR_SET_CHILD_SUBREAPER");

        const pid_t supervisor = ::getpid();
        const pid_t pid = ::fork();
        if (pid < 0) throw errno_error("fork");
        if (pid == 0) {
            link.reset();
            exec_kernel(plan, supervisor, report_write.get());
        }
        // Also here, so that a stop arriving before the kernel's own setpgid reaches it.
        ::setpgid(pid, pid);
        report_write.reset();
        if (std::string failure = read_all(report_read.get()); !failure.empty()) {
            ::kill(-pid, SIGKILL);
            send_failed(link.get(), failure);
            ::_exit(127);
        }
        send_started(link.get(), connection, files_agent.get());
        files_agent.reset();
        supervise(pid, link.get());
    } catch (const std::exception& e) {
        send_failed(link.get(), e.what());
        ::_exit(127);
    }
}

std::vector<std::string> kernel_argv(const KernelSpec& spec, const std::string& connection_file);

ChildPlan make_plan(const KernelSpec& spec, std::optional<UserAccount> drop_to) {
    const std::string workdir = spec.workdir.string();
    const std::string connection_file = (spec.kernel_dir / "kernel.json").string();
    ChildPlan plan{
        .drop_to = std::move(drop_to),
        .kernel_dir = spec.kernel_dir.string(),
        .connection_file = connection_file,
        .workdir = workdir,
        .argv = kernel_argv(spec, connection_file),
        // A clean environment: nothing of the agent's (or the container runtime's) leaks in.
        .env = {"HOME=" + workdir, "USER=" + spec.user_name, "LOGNAME=" + spec.user_name,
                "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "SHELL=/bin/sh",
                "PYTHONDONTWRITEBYTECODE=1"},
        .data_limit = spec.limits.data_limit,
    };
    if (spec.limits.blas_threads)
        plan.env.push_back("OPENBLAS_NUM_THREADS=" + std::to_string(*spec.limits.blas_threads));
    return plan;
}

std::vector<std::string> kernel_argv(const KernelSpec& spec, const std::string& connection_file) {
    std::vector<std::string> argv = {spec.python, "-m", "ipykernel_launcher", "-f", connection_file};
    const auto& lean = lean_kernel_options();
    argv.insert(argv.end(), lean.begin(), lean.end());
    for (auto& option : preload_options(spec.preload)) argv.push_back(std::move(option));
    return argv;
}

}  // namespace

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        reset();
        pid_ = std::exchange(other.pid_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

ChildProcess::~ChildProcess() { reset(); }

void ChildProcess::reset() noexcept {
    if (pid_ > 0 && !try_wait()) {
        // Fails with EPERM for a child running as another user: that one must exit by itself.
        ::kill(pid_, SIGKILL);
        wait_for(kReapTimeout);
    }
    pid_ = -1;
    status_.reset();
}

std::optional<int> ChildProcess::try_wait() {
    if (status_ || pid_ <= 0) return status_;
    int status = 0;
    pid_t rc;
    while ((rc = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (rc == pid_) status_ = status;
    return status_;
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (auto status = try_wait()) return status;
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(20ms);
    }
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == kPreloadFailedExit)
        return "exit status " + std::to_string(kPreloadFailedExit) +
               ": a module of the preload list (worker.preload) cannot be imported; the worker's log says which";
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "wait status " + std::to_string(status);
}

const std::vector<std::string>& lean_kernel_options() {
    static const std::vector<std::string> options = {
        // No SQLite history: no file in the user's home, no saving thread (In/Out stay in memory).
        "--HistoryManager.enabled=False",
        // No 0.5 ms sleep before each execute_reply, a workaround for clients that stop reading
        // at the reply; the agent reads until the idle status.
        "--IPythonKernel._execute_sleep=0",
        // Streams that skip the flushes of empty buffers, and no execute_input echo or busy
        // status (worker/kernel/ci_kernel.py).
        "--IPKernelApp.outstream_class=ci_kernel.LeanOutStream",
        "--IPKernelApp.kernel_class=ci_kernel.LeanKernel",
    };
    return options;
}

std::vector<std::string> preload_options(const std::vector<std::string>& modules) {
    if (modules.empty()) return {};
    // ipykernel runs exec_lines once its shell is set up and before it serves: the imports land in
    // sys.modules without binding a name in the user's namespace.
    std::string call = "--IPKernelApp.exec_lines=__import__('ci_kernel').preload([";
    for (const auto& module : modules) {
        if (!protocol::is_module_name(module)) throw std::invalid_argument("not a module name: " + module);
        call += "'" + module + "',";
    }
    call += "])";
    return {call};
}

StartedKernel launch_kernel(const KernelSpec& spec, const UserAccount& kernel_user,
                            std::chrono::milliseconds timeout) {
    ChildPlan plan = make_plan(spec, kernel_user);
    auto [agent_end, supervisor_end] = make_link_pair();
    const pid_t pid = ::fork();
    if (pid < 0) throw errno_error("fork");
    if (pid == 0) {
        agent_end.reset();
        run_supervisor(plan, std::move(supervisor_end));
    }
    ChildProcess supervisor(pid);
    supervisor_end.reset();
    StartReport report = receive_start(agent_end.get(), timeout);
    return StartedKernel{KernelProcess(std::move(agent_end), std::move(supervisor)),
                         std::move(report.file_server), std::move(report.connection)};
}

StartedKernel connect_kernel(const std::filesystem::path& link_path,
                             std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    UniqueFd link = connect_link(link_path, timeout);
    StartReport report = receive_start(
        link.get(), std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    return StartedKernel{KernelProcess(std::move(link), std::nullopt), std::move(report.file_server),
                         std::move(report.connection)};
}

void serve_kernel(const KernelSpec& spec, const std::filesystem::path& link_path,
                  std::chrono::milliseconds timeout) {
    ChildPlan plan = make_plan(spec, std::nullopt);
    run_supervisor(plan, accept_link(link_path, timeout));
}

KernelProcess::KernelProcess(UniqueFd link, std::optional<ChildProcess> supervisor) noexcept
    : supervisor_(std::move(supervisor)), link_(std::move(link)) {}

void KernelProcess::request_stop() noexcept {
    if (link_) ::shutdown(link_.get(), SHUT_WR);
}

std::optional<KernelEnd> KernelProcess::wait_for(std::chrono::milliseconds timeout) {
    if (!end_ && link_) end_ = receive_end(link_.get(), timeout);
    // The supervisor exits right after its report: reap it.
    if (end_ && supervisor_) supervisor_->wait_for(kReapTimeout);
    return end_;
}

}  // namespace ci::agent
