// Unit tests of the docker-backend plugin's host-side pieces that need no Docker: the per-worker
// directory and the client's transport errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "docker_backend.hpp"
#include "docker_client.hpp"
#include "worker_dir.hpp"

namespace {

using namespace ci::docker;
using ::testing::HasSubstr;

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ci-docker-test.XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

TEST(DockerWorkerDir, MadePrivateWithTheKey) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    const std::string dir = tmp.path() + "/0123456789ab";
    auto st = make_worker_dir(dir, ::getuid(), ::getgid(), "agent.key", "k3y");
    ASSERT_TRUE(st.ok()) << st.error();

    struct stat d {};
    ASSERT_EQ(::stat(dir.c_str(), &d), 0);
    EXPECT_TRUE(S_ISDIR(d.st_mode));
    EXPECT_EQ(d.st_mode & 07777, 0700u);
    EXPECT_EQ(d.st_uid, ::getuid());

    struct stat k {};
    ASSERT_EQ(::stat((dir + "/agent.key").c_str(), &k), 0);
    EXPECT_EQ(k.st_mode & 07777, 0600u);
    EXPECT_EQ(k.st_uid, ::getuid());
    std::ifstream in(dir + "/agent.key");
    std::stringstream content;
    content << in.rdbuf();
    EXPECT_EQ(content.str(), "k3y");  // exactly the key: no trailing newline

    // An existing dir is never reused.
    auto again = make_worker_dir(dir, ::getuid(), ::getgid(), "agent.key", "other");
    ASSERT_FALSE(again.ok());
    EXPECT_THAT(again.error(), HasSubstr("already exists"));

    EXPECT_TRUE(remove_tree(dir).ok());
    EXPECT_FALSE(std::filesystem::exists(dir));
    EXPECT_TRUE(remove_tree(dir).ok());  // removing a missing dir succeeds
}

TEST(DockerWorkerDir, MissingParentIsAClearError) {
    TempDir tmp;
    auto st = make_worker_dir(tmp.path() + "/no/such/0123456789ab", ::getuid(), ::getgid(), "agent.key", "k");
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(st.error(), HasSubstr("mkdir"));
}

TEST(DockerClient, NoDaemonIsATransportErrorNamingTheSocket) {
    TempDir tmp;
    const std::string socket = tmp.path() + "/docker.sock";
    DockerClientOptions options;
    options.connect_timeout = std::chrono::milliseconds(500);
    options.request_timeout = std::chrono::milliseconds(1000);
    DockerClient client(socket, options);
    auto r = client.get("/_ping");
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error(), HasSubstr(socket));
    EXPECT_THAT(r.error(), HasSubstr("GET /_ping"));
    EXPECT_EQ(r.kind(), ci::plugin::FailureKind::unavailable);
}

TEST(DockerBackend, OperationsFailAsValuesWithoutADaemon) {
    TempDir tmp;
    BackendConfig config;
    config.socket = tmp.path() + "/docker.sock";
    config.run_dir = tmp.path() + "/run";
    config.agent_uid = ::getuid();
    config.agent_gid = ::getgid();
    DockerBackend backend(config, nullptr, DockerClientOptions{std::chrono::milliseconds(300),
                                                               std::chrono::milliseconds(600), 1 << 20});
    EXPECT_THROW(backend.check_startup(), std::runtime_error);

    ci::plugin::WorkerSpec spec;
    spec.worker_id = "0123456789ab";
    spec.agent_key = "k";
    auto created = backend.create_worker(spec);
    ASSERT_FALSE(created.ok());
    EXPECT_THAT(created.error(), HasSubstr("creating container ci-worker-default-0123456789ab"));
    // Nothing is left behind after the failed create.
    EXPECT_FALSE(std::filesystem::exists(config.run_dir + "/default/0123456789ab"));

    spec.worker_id = "nothex";
    const auto invalid = backend.create_worker(spec);
    EXPECT_THAT(invalid.error(), HasSubstr("invalid spec"));
    EXPECT_EQ(invalid.kind(), ci::plugin::FailureKind::other);
    EXPECT_FALSE(backend.destroy_worker("../etc").ok());
    EXPECT_FALSE(backend.inspect_worker("0123456789ab").ok());
    EXPECT_FALSE(backend.list_workers().ok());
    EXPECT_FALSE(backend.destroy_worker("0123456789ab").ok());
}

}  // namespace
