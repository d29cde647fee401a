#pragma once
// A Kubernetes API server of our own for the Kubernetes backend's tests (no real one can run on
// these machines): HTTPS with a certificate of a test CA, one bearer token, and the calls the
// backend makes on core/v1 pods and secrets of any namespace: create (409 when the name exists),
// get, list with an equality label selector, delete (404 when missing), and watch (resourceVersion,
// bookmarks, an ERROR event with code 410 when the version is older than the kept history,
// timeoutSeconds). Every object received is checked against the official schema when one is given
// (422 otherwise). A "kubelet" (fake_kubelet.hpp) gets each created and deleted pod and reports
// status through set_pod_status.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include "kube_schema.hpp"

namespace ci::test {

// A test CA and a server certificate for 127.0.0.1, made with the openssl command in dir.
struct TestCertificates {
    std::string ca_file, cert_file, key_file;
};
TestCertificates make_test_certificates(const std::string& dir);

class FakeKubeApi {
public:
    struct Options {
        std::string token;
        TestCertificates certificates;
        const KubeSchema* schema = nullptr;
        std::function<void(const nlohmann::json& pod)> on_pod_created;  // called off the request's thread
        std::function<void(const nlohmann::json& pod)> on_pod_deleted;
        int bookmark_every_ms = 1000;
    };
    explicit FakeKubeApi(Options options);
    ~FakeKubeApi();
    FakeKubeApi(const FakeKubeApi&) = delete;
    FakeKubeApi& operator=(const FakeKubeApi&) = delete;

    std::string url() const;

    // The kubelet's side: replaces a pod's status (a MODIFIED event); false when it is gone.
    bool set_pod_status(const std::string& ns, const std::string& name, const nlohmann::json& status);
    std::optional<nlohmann::json> object(const std::string& resource, const std::string& ns, const std::string& name);
    std::vector<nlohmann::json> objects(const std::string& resource);
    // Creates an object as a client would, without a request (leftovers for a test).
    void put(const std::string& resource, nlohmann::json object);

    // Forgets the event history: every watch from an older version gets 410 (as after a
    // compaction), and the open watches end.
    void expire_history();
    // Ends every open watch (as a restarted API server would).
    void end_watches();

    // Requests seen, as "METHOD resource" (e.g. "LIST pods", "WATCH pods", "POST secrets").
    int count(const std::string& what) const;
    // Objects that failed the schema, with the problems.
    std::vector<std::string> invalid_objects() const;

private:
    struct Event {
        std::uint64_t version;
        std::string type;
        nlohmann::json object;
    };
    struct Request;
    void accept_loop();
    void serve(int fd);
    void handle(SSL* ssl, const Request& request);
    void watch(SSL* ssl, const std::string& ns, const std::map<std::string, std::string>& query);
    std::string stamp(nlohmann::json& object);  // a new resourceVersion, under mu_
    // Why object may not be stored ("" when it may): not an object, or the schema's first
    // problem (all of them recorded); under mu_.
    std::string invalid_locked(const nlohmann::json& object);
    void record(const std::string& type, const nlohmann::json& object);  // under mu_

    Options options_;
    SSL_CTX* context_ = nullptr;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread acceptor_;
    mutable std::mutex mu_;
    std::condition_variable changed_;
    std::map<std::string, std::map<std::string, nlohmann::json>> store_;  // resource -> "ns/name" -> object
    std::vector<Event> events_;   // pods only
    std::uint64_t version_ = 100;
    std::uint64_t oldest_ = 0;    // a watch from a version below this gets 410
    std::uint64_t watch_generation_ = 0;
    std::map<std::string, int> counts_;
    std::vector<std::string> invalid_;
    std::vector<std::thread> connections_;
    std::vector<int> open_fds_;
};

}  // namespace ci::test
