#pragma once
// A headless Chromium for end-to-end tests of browser pages, driven over the DevTools protocol
// on a pipe (--remote-debugging-pipe): JSON messages ending in a NUL byte, written to the
// browser's fd 3 and read from its fd 4. No npm, no WebSocket, no open port.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::test {

class CdpBrowser {
public:
    // Starts Debian's chromium with a throwaway profile under /tmp; throws when it cannot.
    CdpBrowser();
    ~CdpBrowser();
    CdpBrowser(const CdpBrowser&) = delete;
    CdpBrowser& operator=(const CdpBrowser&) = delete;

    // Sends a command (to the browser, or to an attached page's session) and waits at most
    // timeout for its answer: the result, or an exception with the error.
    nlohmann::json call(const std::string& method, const nlohmann::json& params = nlohmann::json::object(),
                        const std::string& session = "",
                        std::chrono::milliseconds timeout = std::chrono::seconds(15));

    // Opens url in a new tab and waits (bounded) until it has loaded; returns the page's session.
    // Content-Security-Policy violations of the page are recorded (see page_log).
    std::string open_page(const std::string& url);

    // The value of a JavaScript expression in the page (promises awaited); throws on an exception.
    nlohmann::json evaluate(const std::string& session, const std::string& expression,
                            std::chrono::milliseconds timeout = std::chrono::seconds(15));
    // Evaluates predicate until it is truthy or limit passes; returns whether it held.
    bool wait_for(const std::string& session, const std::string& predicate, std::chrono::milliseconds limit);

    // What the page reported: console messages, uncaught exceptions, CSP violations; one a line.
    std::string page_log() const;

    // Closes the browser, kills whatever is left of its process group and removes the profile.
    // Afterwards pid() names a process group that no longer exists.
    void close();
    pid_t pid() const { return pid_; }
    const std::string& temp_dir() const { return temp_dir_; }

private:
    void send(const nlohmann::json& message);
    // The next message, or null when none came before deadline; throws when the browser is gone.
    nlohmann::json receive(std::chrono::steady_clock::time_point deadline);
    void note_event(const nlohmann::json& message);
    std::string browser_output() const;

    pid_t pid_ = -1;
    int to_browser_ = -1;
    int from_browser_ = -1;
    std::string temp_dir_;  // profile/ and chromium.log
    std::string pending_;   // bytes read after the last complete message
    int next_id_ = 1;
    std::vector<std::string> page_log_;
};

}  // namespace ci::test
