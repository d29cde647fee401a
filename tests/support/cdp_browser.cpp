#include "cdp_browser.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ci::test {
namespace {

using Clock = std::chrono::steady_clock;

// A pipe end moved above the standard fds and 3/4, so the child's dup2 onto 3 and 4 never
// clobbers the other end.
int high_fd(int fd) {
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    ::close(fd);
    if (moved < 0) throw std::runtime_error(std::string("fcntl: ") + std::strerror(errno));
    return moved;
}

// Reaps pid (a process, or with a negative value a process group) until none of it is left,
// waiting at most limit.
void reap(pid_t pid, Clock::duration limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        pid_t done = waitpid(pid, nullptr, WNOHANG);
        if (done < 0 && errno == ECHILD) return;
        if (done == pid) return;
        if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

// Chromium's crash handler detaches into a session of its own, out of the browser's process
// group; orphaned, it becomes our child (subreaper), so it is found by parent and name.
void end_crash_handlers() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        // "pid (comm) state ppid ...": comm may hold spaces, so parse around its parentheses.
        auto comm_start = line.find('('), comm_end = line.rfind(')');
        if (comm_start == std::string::npos || comm_end == std::string::npos) continue;
        std::istringstream rest(line.substr(comm_end + 1));
        char state = 0;
        pid_t parent = 0;
        rest >> state >> parent;
        if (parent != getpid() || line.compare(comm_start + 1, 15, "chrome_crashpad") != 0) continue;
        pid_t pid = std::stoi(line.substr(0, comm_start));
        kill(pid, SIGKILL);
        reap(pid, std::chrono::seconds(5));
    }
}

// Records violations of the page's Content-Security-Policy where CDP sees them: the console.
constexpr const char* kCspWatcher =
    "document.addEventListener('securitypolicyviolation', (e) => console.error("
    "'Content-Security-Policy violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')));";

}  // namespace

CdpBrowser::CdpBrowser() {
    // A write to a browser that died must fail with EPIPE, not kill the test.
    signal(SIGPIPE, SIG_IGN);
    // Browser helpers orphaned by the main process become our children, so close() can reap them.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    char pattern[] = "/tmp/ci-cdp-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    temp_dir_ = pattern;

    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0) {
        std::string error = std::strerror(errno);
        close();
        throw std::runtime_error("pipe2: " + error);
    }
    int child_in = high_fd(to[0]), child_out = high_fd(from[1]);
    to_browser_ = high_fd(to[1]);
    from_browser_ = high_fd(from[0]);

    std::vector<std::string> args = {
        "chromium", "--headless=new", "--remote-debugging-pipe", "--user-data-dir=" + temp_dir_ + "/profile",
        "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--password-store=basic", "--mute-audio", "about:blank"};
    // Chromium refuses to run as root with its sandbox; the test is the only thing it loads.
    if (geteuid() == 0) args.insert(args.begin() + 1, "--no-sandbox");
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    const std::string log = temp_dir_ + "/chromium.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_adddup2(&actions, child_in, 3);
    posix_spawn_file_actions_adddup2(&actions, child_out, 4);
    // Its own process group: close() can then end every helper process it forks, and only those.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    int rc = posix_spawnp(&pid_, "chromium", &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(child_in);
    ::close(child_out);
    if (rc != 0) {
        pid_ = -1;
        close();
        throw std::runtime_error(std::string("cannot start chromium (install it: scripts/install-deps.sh): ") +
                                 std::strerror(rc));
    }
    try {
        call("Browser.getVersion", nlohmann::json::object(), "", std::chrono::seconds(30));
    } catch (...) {
        close();
        throw;
    }
}

CdpBrowser::~CdpBrowser() { close(); }

void CdpBrowser::close() {
    if (pid_ > 0) {
        try {
            call("Browser.close", nlohmann::json::object(), "", std::chrono::seconds(5));
        } catch (const std::exception&) {
            // Already gone or stuck: the kill below ends it either way.
        }
        reap(pid_, std::chrono::seconds(5));
        // Helpers (zygote, renderer, GPU) share the group and may outlive the main process; as
        // orphans they become our children (subreaper), so they are reaped here, not left as zombies.
        kill(-pid_, SIGKILL);
        reap(-pid_, std::chrono::seconds(5));
        end_crash_handlers();
    }
    if (to_browser_ >= 0) ::close(to_browser_);
    if (from_browser_ >= 0) ::close(from_browser_);
    to_browser_ = from_browser_ = -1;
    if (!temp_dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(temp_dir_, ec);
    }
    // pid_ is kept so a test can check that its group is gone.
    temp_dir_.clear();
}

void CdpBrowser::send(const nlohmann::json& message) {
    std::string bytes = message.dump();
    bytes.push_back('\0');
    for (std::size_t done = 0; done < bytes.size();) {
        ssize_t n = ::write(to_browser_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error("chromium stopped reading its pipe" + browser_output());
        done += static_cast<std::size_t>(n);
    }
}

nlohmann::json CdpBrowser::receive(Clock::time_point deadline) {
    while (true) {
        auto end = pending_.find('\0');
        if (end != std::string::npos) {
            std::string message = pending_.substr(0, end);
            pending_.erase(0, end + 1);
            return nlohmann::json::parse(message);
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return nullptr;
        pollfd fd{from_browser_, POLLIN, 0};
        int ready = ::poll(&fd, 1, static_cast<int>(left));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return nullptr;
        char buf[65536];
        ssize_t n = ::read(from_browser_, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error("chromium closed its pipe (it exited)" + browser_output());
        pending_.append(buf, static_cast<std::size_t>(n));
    }
}

nlohmann::json CdpBrowser::call(const std::string& method, const nlohmann::json& params, const std::string& session,
                                std::chrono::milliseconds timeout) {
    if (to_browser_ < 0) throw std::runtime_error("chromium is closed");
    const int id = next_id_++;
    nlohmann::json message = {{"id", id}, {"method", method}, {"params", params}};
    if (!session.empty()) message["sessionId"] = session;
    send(message);
    auto deadline = Clock::now() + timeout;
    while (true) {
        nlohmann::json answer = receive(deadline);
        if (answer.is_null())
            throw std::runtime_error(method + ": no answer from chromium within " + std::to_string(timeout.count()) + " ms");
        if (!answer.contains("id")) {
            note_event(answer);
            continue;
        }
        if (answer["id"] != id) continue;  // the late answer of a command that timed out
        if (answer.contains("error")) throw std::runtime_error(method + " failed: " + answer["error"].dump());
        return answer.value("result", nlohmann::json::object());
    }
}

void CdpBrowser::note_event(const nlohmann::json& message) {
    const std::string method = message.value("method", "");
    const auto& params = message.contains("params") ? message["params"] : nlohmann::json::object();
    if (method == "Runtime.consoleAPICalled") {
        std::string line = "console." + params.value("type", "log") + ":";
        for (const auto& arg : params.value("args", nlohmann::json::array()))
            line += " " + (arg.contains("value") ? (arg["value"].is_string() ? arg["value"].get<std::string>() : arg["value"].dump())
                                                 : arg.value("description", arg.value("type", "?")));
        page_log_.push_back(line);
    } else if (method == "Runtime.exceptionThrown") {
        const auto& details = params["exceptionDetails"];
        std::string text = details.value("text", "exception");
        if (details.contains("exception")) text += " " + details["exception"].value("description", "");
        page_log_.push_back("uncaught: " + text);
    } else if (method == "Log.entryAdded") {
        const auto& entry = params["entry"];
        page_log_.push_back("log." + entry.value("source", "?") + "." + entry.value("level", "?") + ": " +
                            entry.value("text", "") + " " + entry.value("url", ""));
    }
}

std::string CdpBrowser::open_page(const std::string& url) {
    std::string target = call("Target.createTarget", {{"url", "about:blank"}})["targetId"];
    std::string session = call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}})["sessionId"];
    call("Runtime.enable", nlohmann::json::object(), session);
    call("Log.enable", nlohmann::json::object(), session);
    call("Page.enable", nlohmann::json::object(), session);
    call("Page.addScriptToEvaluateOnNewDocument", {{"source", kCspWatcher}}, session);
    auto navigated = call("Page.navigate", {{"url", url}}, session);
    if (navigated.contains("errorText")) throw std::runtime_error("cannot load " + url + ": " + navigated["errorText"].dump());
    const std::string loaded = "location.href === " + nlohmann::json(url).dump() + " && document.readyState === 'complete'";
    if (!wait_for(session, loaded, std::chrono::seconds(15)))
        throw std::runtime_error(url + " did not finish loading within 15 s\n" + page_log());
    return session;
}

nlohmann::json CdpBrowser::evaluate(const std::string& session, const std::string& expression,
                                    std::chrono::milliseconds timeout) {
    auto result = call("Runtime.evaluate",
                       {{"expression", expression}, {"awaitPromise", true}, {"returnByValue", true}, {"userGesture", true}},
                       session, timeout);
    if (result.contains("exceptionDetails")) {
        const auto& details = result["exceptionDetails"];
        std::string text = details.contains("exception") ? details["exception"].value("description", "")
                                                         : details.value("text", "exception");
        throw std::runtime_error("evaluating `" + expression + "` threw: " + text);
    }
    return result["result"].value("value", nlohmann::json());
}

bool CdpBrowser::wait_for(const std::string& session, const std::string& predicate, std::chrono::milliseconds limit) {
    auto deadline = Clock::now() + limit;
    std::string last_error;
    while (true) {
        // A page that is still loading (or reloading) has no context to evaluate in yet.
        try {
            if (evaluate(session, "Boolean(" + predicate + ")") == true) return true;
            last_error.clear();
        } catch (const std::runtime_error& e) {
            last_error = e.what();
        }
        if (Clock::now() >= deadline) {
            if (!last_error.empty()) page_log_.push_back("last evaluation failed: " + last_error);
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

std::string CdpBrowser::page_log() const {
    std::string out;
    for (const auto& line : page_log_) out += line + "\n";
    return out;
}

std::string CdpBrowser::browser_output() const {
    std::ifstream log(temp_dir_ + "/chromium.log");
    std::stringstream text;
    text << log.rdbuf();
    std::string all = text.str();
    if (all.size() > 4000) all = "..." + all.substr(all.size() - 4000);
    return all.empty() ? "" : "; chromium said:\n" + all;
}

}  // namespace ci::test
