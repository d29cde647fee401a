#include "ext4_format.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <utility>

namespace ci::loopdisk {
namespace {

using ci::plugin::Result;
using ci::plugin::Status;

// Bump when mkfs_arguments() changes, so templates made with the old arguments are not used.
constexpr const char* kTemplateVersion = "v1";
constexpr int kMkfsTimeoutS = 120;
constexpr std::size_t kMaxCapturedOutput = 4096;

std::string errno_text(int err) { return std::strerror(err); }

// Move-only owner of a child process: killed and reaped if still running when dropped.
class ChildProcess {
public:
    explicit ChildProcess(pid_t pid) : pid_(pid) {}
    ~ChildProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
    ChildProcess(ChildProcess&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
    ChildProcess& operator=(ChildProcess&&) = delete;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Waits for the exit; returns the waitpid status.
    int wait() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return status;
    }

private:
    pid_t pid_;
};

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    for (char& c : s)
        if (c == '\n') c = ' ';
    return s;
}

bool is_executable_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Copies [begin, end) of src to dst at the same offsets, in the kernel when it can.
Status copy_range(int src, int dst, off_t begin, off_t end) {
    off_t in = begin, out = begin;
    bool kernel_copy = true;
    std::vector<char> buffer;
    while (in < end) {
        const std::size_t want = static_cast<std::size_t>(std::min<off_t>(end - in, off_t{1} << 30));
        if (kernel_copy) {
            const ssize_t n = ::copy_file_range(src, &in, dst, &out, want, 0);
            if (n > 0) continue;
            if (n == 0) return Status::failure("copying the template: unexpected end of file at " + std::to_string(in));
            if (errno == EINTR) continue;
            if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                return Status::failure("copying the template: copy_file_range: " + errno_text(errno));
            kernel_copy = false;  // different file systems or an old kernel: copy through a buffer
            buffer.resize(1 << 20);
        }
        const ssize_t r = ::pread(src, buffer.data(), std::min(want, buffer.size()), in);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return Status::failure("copying the template: read: " + (r < 0 ? errno_text(errno) : "end of file"));
        for (ssize_t done = 0; done < r;) {
            const ssize_t w = ::pwrite(dst, buffer.data() + done, static_cast<std::size_t>(r - done), out + done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return Status::failure("copying the template: write: " + errno_text(errno));
            done += w;
        }
        in += r;
        out += r;
    }
    return Status::success();
}

std::string proc_fd_path(int fd) { return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd); }

}  // namespace

std::optional<std::string> find_mkfs_ext4() {
    std::vector<std::string> dirs = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    if (const char* path = std::getenv("PATH")) {
        std::stringstream s(path);
        for (std::string dir; std::getline(s, dir, ':');)
            if (!dir.empty() && dir.front() == '/') dirs.push_back(dir);
    }
    for (const auto& dir : dirs)
        if (is_executable_file(dir + "/mkfs.ext4")) return dir + "/mkfs.ext4";
    return std::nullopt;
}

std::vector<std::string> mkfs_arguments(const std::string& mkfs, const std::string& target) {
    return {mkfs, "-q", "-F", "-b", "4096", "-i", "16384", "-I", "256", "-m", "0",
            "-O", "^has_journal", "-E", "lazy_itable_init=1", target};
}

Status run_program(const std::vector<std::string>& argv, int timeout_s) {
    if (argv.empty()) return Status::failure("run_program: no program");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Status::failure("pipe: " + errno_text(errno));
    UniqueFd read_end(fds[0]), write_end(fds[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);  // dup2 clears O_CLOEXEC
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    char locale[] = "LC_ALL=C";
    char* env[] = {locale, nullptr};
    pid_t pid = -1;
    // posix_spawn (vfork-like) rather than fork: safe in a process with many threads.
    const int err = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), env);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) return Status::failure("starting " + argv[0] + ": " + errno_text(err));
    ChildProcess child(pid);
    write_end.reset();

    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return Status::failure(argv[0] + " did not finish within " + std::to_string(timeout_s) + " s");
        pollfd p{read_end.get(), POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return Status::failure("poll: " + errno_text(errno));
        if (ready == 0) continue;
        char buf[1024];
        const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the child closed its end: it has exited or is about to
        if (output.size() < kMaxCapturedOutput) output.append(buf, static_cast<std::size_t>(n));
    }
    const int status = child.wait();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::success();
    std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                        : "was killed by signal " + std::to_string(WTERMSIG(status));
    output = trimmed(output);
    return Status::failure(argv[0] + " " + how + (output.empty() ? "" : ": " + output));
}

Status copy_sparse(int src, int dst, std::uint64_t size) {
    if (::ioctl(dst, FICLONE, src) == 0) return Status::success();
    const off_t end = static_cast<off_t>(size);
    off_t pos = 0;
    while (pos < end) {
        const off_t data = ::lseek(src, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) break;  // only a hole is left
            return Status::failure("copying the template: SEEK_DATA: " + errno_text(errno));
        }
        off_t hole = ::lseek(src, data, SEEK_HOLE);
        if (hole < 0) return Status::failure("copying the template: SEEK_HOLE: " + errno_text(errno));
        hole = std::min(hole, end);
        if (auto st = copy_range(src, dst, data, hole); !st.ok()) return st;
        pos = hole;
    }
    return Status::success();
}

Ext4Formatter::Ext4Formatter(FormatMethod method, std::string mkfs, std::string template_dir)
    : method_(method), mkfs_(std::move(mkfs)), template_dir_(std::move(template_dir)) {}

Status Ext4Formatter::format(int image_fd, const std::string& image_path, std::uint64_t size_mb) {
    if (method_ == FormatMethod::mkfs) {
        if (auto st = run_program(mkfs_arguments(mkfs_, image_path), kMkfsTimeoutS); !st.ok())
            return Status::failure("formatting " + image_path + ": " + st.error());
        return Status::success();
    }
    auto tmpl = open_template(size_mb);
    if (!tmpl.ok()) return Status::failure(tmpl.error());
    if (auto st = copy_sparse(tmpl.value().get(), image_fd, size_mb << 20); !st.ok())
        return Status::failure(image_path + ": " + st.error());
    return Status::success();
}

Result<UniqueFd> Ext4Formatter::open_template(std::uint64_t size_mb) {
    using R = Result<UniqueFd>;
    const std::uint64_t bytes = size_mb << 20;
    const std::string path = template_dir_ + "/ext4-" + kTemplateVersion + "-" + std::to_string(size_mb) + "m.img";
    std::lock_guard lock(template_mu_);

    UniqueFd existing(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st;
    if (existing && ::fstat(existing.get(), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<std::uint64_t>(st.st_size) == bytes)
        return R::success(std::move(existing));
    if (existing) ::unlink(path.c_str());  // not what this name promises: make it again

    if (::mkdir(template_dir_.c_str(), 0700) != 0 && errno != EEXIST)
        return R::failure("making " + template_dir_ + ": " + errno_text(errno));
    // Unnamed until complete, so a crash or a failed mkfs never leaves a half-made template.
    UniqueFd fd(::open(template_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!fd) return R::failure("making a template in " + template_dir_ + ": " + errno_text(errno));
    if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0)
        return R::failure("sizing the template " + path + ": " + errno_text(errno));
    // mkfs.ext4 reopens the unnamed file through our /proc fd link.
    if (auto ran = run_program(mkfs_arguments(mkfs_, proc_fd_path(fd.get())), kMkfsTimeoutS); !ran.ok())
        return R::failure("formatting the template " + path + ": " + ran.error());
    if (::fsync(fd.get()) != 0) return R::failure("syncing the template " + path + ": " + errno_text(errno));
    const std::string self_link = "/proc/self/fd/" + std::to_string(fd.get());
    if (::linkat(AT_FDCWD, self_link.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) != 0 && errno != EEXIST)
        return R::failure("naming the template " + path + ": " + errno_text(errno));
    // EEXIST: another process linked its own first; both are the same empty file system.
    return R::success(std::move(fd));
}

}  // namespace ci::loopdisk
