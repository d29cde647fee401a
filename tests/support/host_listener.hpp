#pragma once
// A TCP listener the test runs on this machine, as a target that workers must not reach. It
// accepts and closes every connection, counting them.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace ci::test {

class HostListener {
public:
    // On every host address (INADDR_ANY): loopback, docker0, the workers' bridges.
    HostListener();
    // On one IPv4 address only, e.g. "127.0.0.1" or the host's address on a workers' bridge.
    explicit HostListener(const std::string& ip);
    ~HostListener();
    HostListener(const HostListener&) = delete;
    HostListener& operator=(const HostListener&) = delete;

    int port() const { return port_; }
    // Connections accepted so far.
    int accepted() const { return accepted_; }
    // Waits until at least `count` connections were accepted or `timeout` passed; the final count.
    int wait_for_accepted(int count, std::chrono::milliseconds timeout) const;

private:
    void listen_on(const std::string& ip);

    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

}  // namespace ci::test
