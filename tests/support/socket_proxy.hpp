#pragma once
// A unix-socket forwarder the tests put between the gateway and dockerd, so that they can make
// the daemon unreachable (and reachable again) without stopping it.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ci::test {

class SocketProxy {
public:
    SocketProxy(std::string listen_path, std::string target_path);
    ~SocketProxy();
    const std::string& path() const { return listen_path_; }
    // Accepting and forwarding (the constructor starts it).
    void start();
    // Closes the listening socket and every forwarded connection: connecting to path() is refused.
    void stop();

private:
    void accept_loop(int listener);
    void pump(int client);

    std::string listen_path_;
    std::string target_path_;
    std::mutex mu_;
    int listener_ = -1;
    std::vector<int> connections_;
    std::vector<std::thread> threads_;
};

}  // namespace ci::test
