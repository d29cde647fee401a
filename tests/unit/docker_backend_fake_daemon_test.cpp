// DockerBackend's own logic (request order, cleanup after a failed step, 404/409 handling) against a
// scripted fake Engine API on a unix socket. The same paths run against the real dockerd in the
// integration tests; this only pins the backend's decisions in isolation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "docker_api.hpp"
#include "docker_backend.hpp"
#include "worker_dir.hpp"

namespace {

using namespace ci::docker;
using ci::plugin::FailureKind;
using ci::plugin::WorkerSpec;
using ci::plugin::WorkerState;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct FakeRequest {
    std::string method;
    std::string target;  // path after /v1.41
    std::string body;
};

struct FakeResponse {
    long status = 200;  // 0: hang up without answering
    std::string body;
};

// Serves one HTTP/1.1 request per connection; `handler` decides each answer.
class FakeDockerDaemon {
public:
    using Handler = std::function<FakeResponse(const FakeRequest&)>;

    FakeDockerDaemon(const std::string& socket_path, Handler handler) : handler_(std::move(handler)) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        socket_path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 16) != 0)
            throw std::runtime_error("fake daemon: cannot listen on " + socket_path);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeDockerDaemon() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::vector<FakeRequest> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::vector<std::string> request_lines() {
        std::vector<std::string> out;
        for (const auto& r : requests()) out.push_back(r.method + " " + r.target);
        return out;
    }

private:
    void serve() {
        while (!stop_) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            handle(c);
            ::close(c);
        }
    }
    void handle(int c) {
        std::string data;
        char buf[4096];
        std::size_t head_end = std::string::npos;
        std::size_t need = 0;
        for (;;) {
            const ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) return;
            data.append(buf, static_cast<std::size_t>(n));
            if (head_end == std::string::npos && (head_end = data.find("\r\n\r\n")) != std::string::npos) {
                const std::string head = data.substr(0, head_end);
                std::size_t cl = head.find("Content-Length: ");
                need = head_end + 4 + (cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16)));
            }
            if (head_end != std::string::npos && data.size() >= need) break;
        }
        FakeRequest r;
        const std::size_t sp1 = data.find(' ');
        const std::size_t sp2 = data.find(' ', sp1 + 1);
        r.method = data.substr(0, sp1);
        r.target = data.substr(sp1 + 1, sp2 - sp1 - 1);
        if (r.target.rfind("/v1.41", 0) == 0) r.target = r.target.substr(6);
        r.body = data.substr(head_end + 4);
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(r);
        }
        const FakeResponse resp = handler_(r);
        if (resp.status == 0) return;
        const std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " X\r\nContent-Type: application/json\r\n" +
                                "Content-Length: " + std::to_string(resp.body.size()) +
                                "\r\nConnection: close\r\n\r\n" + resp.body;
        (void)!::send(c, out.data(), out.size(), MSG_NOSIGNAL);  // the client may have given up
    }

    Handler handler_;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<FakeRequest> requests_;
};

class DockerBackendFakeDaemon : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "the backend mounts each worker dir's tmpfs: needs root";
        std::string tmpl = (std::filesystem::temp_directory_path() / "ci-docker-fake.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        config_.socket = dir_ + "/docker.sock";
        config_.run_dir = dir_ + "/run";
        config_.instance = "unit";
        config_.agent_uid = ::getuid();
        config_.agent_gid = ::getgid();
        config_.kernel_uid = ::getuid() + 1;
        std::filesystem::create_directories(config_.run_dir + "/unit");
    }
    void TearDown() override {
        if (dir_.empty()) return;
        (void)remove_worker_dir(worker_dir_path());  // a worker left made holds a tmpfs mount
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    WorkerSpec spec() const {
        WorkerSpec s;
        s.worker_id = "0123456789ab";
        s.agent_key = "key";
        return s;
    }
    DockerBackend backend(DockerClientOptions options = {}) { return DockerBackend(config_, nullptr, options); }
    std::string worker_dir_path() const { return config_.run_dir + "/unit/0123456789ab"; }

    std::string dir_;
    BackendConfig config_;
};

TEST_F(DockerBackendFakeDaemon, CreateThenStart) {
    FakeDockerDaemon daemon(config_.socket, [](const FakeRequest& r) -> FakeResponse {
        if (r.method == "POST" && r.target.rfind("/containers/create", 0) == 0) return {201, R"({"Id":"c1d2","Warnings":[]})"};
        if (r.method == "POST" && r.target == "/containers/c1d2/start") return {204, ""};
        return {500, R"({"message":"unexpected"})"};
    });
    auto b = backend();
    auto h = b.create_worker(spec());
    ASSERT_TRUE(h.ok()) << h.error();
    EXPECT_EQ(h.value().worker_id, "0123456789ab");
    EXPECT_EQ(h.value().backend_id, "c1d2");
    EXPECT_EQ(h.value().agent_endpoint, "ipc://" + worker_dir_path() + "/agent.sock");
    EXPECT_THAT(daemon.request_lines(), ElementsAre("POST /containers/create?name=ci-worker-unit-0123456789ab",
                                                    "POST /containers/c1d2/start"));
    EXPECT_EQ(json::parse(daemon.requests()[0].body), build_create_request(config_, spec(), worker_dir_path()));
    EXPECT_TRUE(std::filesystem::exists(worker_dir_path() + "/agent.key"));
}

TEST_F(DockerBackendFakeDaemon, FailedStartRemovesContainerAndDir) {
    FakeDockerDaemon daemon(config_.socket, [](const FakeRequest& r) -> FakeResponse {
        if (r.target.rfind("/containers/create", 0) == 0) return {201, R"({"Id":"c1d2"})"};
        if (r.target == "/containers/c1d2/start") return {500, R"({"message":"OCI runtime create failed"})"};
        if (r.method == "DELETE") return {204, ""};
        return {500, "{}"};
    });
    auto b = backend();
    auto h = b.create_worker(spec());
    ASSERT_FALSE(h.ok());
    EXPECT_THAT(h.error(), HasSubstr("starting container ci-worker-unit-0123456789ab"));
    EXPECT_THAT(h.error(), HasSubstr("OCI runtime create failed"));
    EXPECT_EQ(daemon.request_lines().back(), "DELETE /containers/ci-worker-unit-0123456789ab?force=true&v=true");
    EXPECT_FALSE(std::filesystem::exists(worker_dir_path()));
}

TEST_F(DockerBackendFakeDaemon, MissingImageIsNotFoundAndCleansUp) {
    FakeDockerDaemon daemon(config_.socket, [](const FakeRequest& r) -> FakeResponse {
        if (r.target.rfind("/containers/create", 0) == 0)
            return {404, R"({"message":"No such image: code-interpreter-worker:latest"})"};
        if (r.method == "DELETE") return {404, R"({"message":"No such container"})"};
        return {500, "{}"};
    });
    auto b = backend();
    auto h = b.create_worker(spec());
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.kind(), FailureKind::not_found);
    EXPECT_EQ(h.error(), "create_worker 0123456789ab: " + missing_image_message(config_));
    EXPECT_FALSE(std::filesystem::exists(worker_dir_path()));
}

TEST_F(DockerBackendFakeDaemon, HostOutOfDiskOrAddressesIsExhausted) {
    std::atomic<bool> disk_full{true};
    FakeDockerDaemon daemon(config_.socket, [&](const FakeRequest& r) -> FakeResponse {
        if (r.target.rfind("/containers/create", 0) == 0)
            return disk_full ? FakeResponse{500, R"({"message":"mkdir /var/lib/docker/overlay2/x: no space left on device"})"}
                             : FakeResponse{201, R"({"Id":"c1d2"})"};
        if (r.target == "/containers/c1d2/start")
            return {500, R"({"message":"no available IPv4 addresses on this network's address pools: ci-unit"})"};
        if (r.method == "DELETE") return {204, ""};
        return {500, "{}"};
    });
    auto b = backend();
    auto h = b.create_worker(spec());
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.kind(), FailureKind::exhausted);
    EXPECT_THAT(h.error(), StartsWith("host disk full: create_worker 0123456789ab: creating container"));
    disk_full = false;
    h = b.create_worker(spec());
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.kind(), FailureKind::exhausted);
    EXPECT_THAT(h.error(), HasSubstr("address pools"));
    EXPECT_FALSE(std::filesystem::exists(worker_dir_path()));
}

TEST_F(DockerBackendFakeDaemon, OtherDaemonErrorsAreOther) {
    FakeDockerDaemon daemon(config_.socket, [](const FakeRequest& r) -> FakeResponse {
        if (r.target.rfind("/containers/create", 0) == 0) return {201, R"({"Id":"c1d2"})"};
        if (r.target == "/containers/c1d2/start") return {404, R"({"message":"No such container: c1d2"})"};
        return {500, R"({"message":"driver failed"})"};
    });
    auto b = backend();
    auto h = b.create_worker(spec());
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.kind(), FailureKind::other);
    EXPECT_EQ(b.destroy_worker("0123456789ab").kind(), FailureKind::other);
}

// Every operation that cannot reach the daemon fails as unavailable, whatever the way it fails.
void expect_unavailable(DockerBackend& b, const WorkerSpec& spec, const std::string& what) {
    auto created = b.create_worker(spec);
    ASSERT_FALSE(created.ok()) << what;
    EXPECT_EQ(created.kind(), FailureKind::unavailable) << what << ": " << created.error();
    auto destroyed = b.destroy_worker(spec.worker_id);
    EXPECT_EQ(destroyed.kind(), FailureKind::unavailable) << what << ": " << destroyed.error();
    auto listed = b.list_workers();
    EXPECT_EQ(listed.kind(), FailureKind::unavailable) << what << ": " << listed.error();
    auto inspected = b.inspect_worker(spec.worker_id);
    EXPECT_EQ(inspected.kind(), FailureKind::unavailable) << what << ": " << inspected.error();
    EXPECT_THAT(inspected.error(), HasSubstr(b.config().socket)) << what;
}

TEST_F(DockerBackendFakeDaemon, UnreachableDaemonIsUnavailable) {
    auto b = backend();
    expect_unavailable(b, spec(), "no socket");
    { FakeDockerDaemon gone(config_.socket, [](const FakeRequest&) { return FakeResponse{}; }); }
    expect_unavailable(b, spec(), "socket without a listener");
    EXPECT_FALSE(std::filesystem::exists(worker_dir_path()));
}

TEST_F(DockerBackendFakeDaemon, DaemonThatHangsUpOrStallsIsUnavailable) {
    {
        FakeDockerDaemon daemon(config_.socket, [](const FakeRequest&) { return FakeResponse{0, ""}; });
        auto b = backend();
        expect_unavailable(b, spec(), "hang-up");
    }
    std::filesystem::remove(config_.socket);
    FakeDockerDaemon daemon(config_.socket, [](const FakeRequest&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        return FakeResponse{500, "{}"};
    });
    auto b = backend(DockerClientOptions{std::chrono::milliseconds(200), std::chrono::milliseconds(100), 1 << 20});
    auto listed = b.list_workers();
    EXPECT_EQ(listed.kind(), FailureKind::unavailable) << listed.error();
    EXPECT_THAT(listed.error(), HasSubstr("timed out"));
}

TEST_F(DockerBackendFakeDaemon, NameConflictLeavesTheOtherContainerAlone) {
    FakeDockerDaemon daemon(config_.socket, [](const FakeRequest& r) -> FakeResponse {
        if (r.target.rfind("/containers/create", 0) == 0) return {409, R"({"message":"Conflict. The container name is already in use"})"};
        return {500, "{}"};
    });
    auto b = backend();
    auto h = b.create_worker(spec());
    ASSERT_FALSE(h.ok());
    EXPECT_THAT(h.error(), HasSubstr("already in use"));
    EXPECT_EQ(daemon.request_lines().size(), 1u);  // no DELETE of someone else's container
    EXPECT_FALSE(std::filesystem::exists(worker_dir_path()));
}

TEST_F(DockerBackendFakeDaemon, DestroyToleratesMissingAndWaitsOutRemovalInProgress) {
    std::atomic<int> deletes{0};
    FakeDockerDaemon daemon(config_.socket, [&](const FakeRequest& r) -> FakeResponse {
        if (r.method != "DELETE") return {500, "{}"};
        return ++deletes == 1 ? FakeResponse{409, R"({"message":"removal already in progress"})"} : FakeResponse{404, "{}"};
    });
    std::filesystem::create_directories(worker_dir_path());
    auto b = backend();
    auto st = b.destroy_worker("0123456789ab");
    EXPECT_TRUE(st.ok()) << st.error();
    EXPECT_EQ(deletes.load(), 2);
    EXPECT_FALSE(std::filesystem::exists(worker_dir_path()));
}

TEST_F(DockerBackendFakeDaemon, DestroyFailureKeepsTheDirAndSaysWhy) {
    FakeDockerDaemon daemon(config_.socket, [](const FakeRequest&) -> FakeResponse {
        return {500, R"({"message":"driver failed"})"};
    });
    std::filesystem::create_directories(worker_dir_path());
    auto b = backend();
    auto st = b.destroy_worker("0123456789ab");
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(st.error(), HasSubstr("driver failed"));
    EXPECT_TRUE(std::filesystem::exists(worker_dir_path()));
}

TEST_F(DockerBackendFakeDaemon, ListAndInspect) {
    const std::string image_path = inspect_image_path(config_.image);
    FakeDockerDaemon daemon(config_.socket, [&](const FakeRequest& r) -> FakeResponse {
        if (r.target.rfind("/containers/json?", 0) == 0)
            return {200, R"([{"Id":"c1","Labels":{"code-interpreter.managed":"true","code-interpreter.instance":"unit",
                                                   "code-interpreter.worker-id":"0123456789ab"}}])"};
        if (r.target == image_path) return {200, R"({"Id":"sha256:new"})"};
        if (r.target == "/containers/ci-worker-unit-0123456789ab/json")
            return {200, R"({"Id":"c1","State":{"Status":"exited","Running":false,"OOMKilled":false,"ExitCode":1}})"};
        return {404, R"({"message":"No such container"})"};
    });
    auto b = backend();
    auto l = b.list_workers();
    ASSERT_TRUE(l.ok()) << l.error();
    ASSERT_EQ(l.value().size(), 1u);
    EXPECT_EQ(l.value()[0].backend_id, "c1");
    EXPECT_THAT(daemon.request_lines(), ElementsAre("GET " + list_containers_path(config_), "GET " + image_path));
    auto s = b.inspect_worker("0123456789ab");
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ(s.value().state, WorkerState::exited);
    EXPECT_EQ(s.value().exit_code, 1);
    auto gone = b.inspect_worker("ffffffffffff");
    ASSERT_TRUE(gone.ok());
    EXPECT_EQ(gone.value().state, WorkerState::missing);
}

TEST_F(DockerBackendFakeDaemon, ListMarksWorkersThatCannotBeAdopted) {
    const auto container = [](const std::string& worker_id, const std::string& state, const std::string& image_id) {
        return json{{"Id", "c-" + worker_id},
                    {"Labels", {{kLabelManaged, "true"}, {kLabelInstance, "unit"}, {kLabelWorkerId, worker_id}}},
                    {"State", state},
                    {"ImageID", image_id},
                    {"HostConfig", {{"NetworkMode", "none"}}}};
    };
    const std::string list = json::array({container("00000000000a", "running", "sha256:new"),
                                          container("00000000000b", "running", "sha256:old"),
                                          container("00000000000c", "exited", "sha256:new")})
                                 .dump();
    const std::string image_path = inspect_image_path(config_.image);
    std::atomic<bool> image_exists{true};
    FakeDockerDaemon daemon(config_.socket, [&](const FakeRequest& r) -> FakeResponse {
        if (r.target.rfind("/containers/json?", 0) == 0) return {200, list};
        if (r.target == image_path)
            return image_exists ? FakeResponse{200, R"({"Id":"sha256:new"})"}
                                : FakeResponse{404, R"({"message":"No such image: code-interpreter-worker:latest"})"};
        return {500, "{}"};
    });
    auto b = backend();
    auto l = b.list_workers();
    ASSERT_TRUE(l.ok()) << l.error();
    ASSERT_EQ(l.value().size(), 3u);
    EXPECT_EQ(l.value()[0].stale, "");
    EXPECT_THAT(l.value()[1].stale, HasSubstr("another image"));
    EXPECT_EQ(l.value()[2].stale, "it is exited, not running");

    image_exists = false;  // removed since: nothing made from it can be told current
    l = b.list_workers();
    ASSERT_TRUE(l.ok()) << l.error();
    for (const auto& h : l.value()) EXPECT_NE(h.stale, "") << h.worker_id;
}

}  // namespace
