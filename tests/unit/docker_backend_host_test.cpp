// Unit tests of the docker-backend plugin's host-side pieces that need no Docker: the per-worker
// directory (a tmpfs of its own: mounting it needs root, like the gateway) and the client's
// transport errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "docker_backend.hpp"
#include "docker_client.hpp"
#include "worker_dir.hpp"

// statfs(2)'s flag for a nosymfollow mount (Linux 5.10); glibc 2.36's headers do not name it.
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

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

// Whether something is mounted on `path` (its device differs from its parent's).
bool is_mount_point(const std::string& path) {
    struct stat here {}, parent {};
    return ::stat(path.c_str(), &here) == 0 && ::stat((path + "/..").c_str(), &parent) == 0 &&
           here.st_dev != parent.st_dev;
}

TEST(DockerWorkerDir, MadePrivateWithTheKeyOnATinyTmpfsOfItsOwn) {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting the worker dir's tmpfs needs root";
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

    struct statfs fs {};
    ASSERT_EQ(::statfs(dir.c_str(), &fs), 0);
    EXPECT_EQ(fs.f_type, TMPFS_MAGIC);
    struct statvfs vfs {};
    ASSERT_EQ(::statvfs(dir.c_str(), &vfs), 0);
    EXPECT_EQ(vfs.f_blocks * vfs.f_frsize, 256u << 10);
    EXPECT_EQ(vfs.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOSYMFOLLOW),
              ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOSYMFOLLOW);

    // An agent that swaps its socket for a link to a host socket leads the gateway nowhere.
    const std::string host_socket = tmp.path() + "/host.sock";
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", host_socket.c_str());
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    ASSERT_EQ(::symlink(host_socket.c_str(), (dir + "/agent.sock").c_str()), 0);
    const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", (dir + "/agent.sock").c_str());
    EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address), -1);
    EXPECT_EQ(errno, ELOOP);
    ::close(client);
    ::close(listener);
    ::unlink((dir + "/agent.sock").c_str());

    // Whoever writes there (even root) stops at its size, not at the host /run's.
    const int fd = ::open((dir + "/fill").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const std::string block(64 << 10, 'x');
    std::size_t written = 0;
    ssize_t n = 0;
    while (written < (4u << 20) && (n = ::write(fd, block.data(), block.size())) > 0) written += static_cast<std::size_t>(n);
    const int err = errno;
    ::close(fd);
    EXPECT_EQ(n, -1);
    EXPECT_EQ(err, ENOSPC);
    EXPECT_LT(written, 256u << 10);

    // An existing dir is never reused.
    auto again = make_worker_dir(dir, ::getuid(), ::getgid(), "agent.key", "other");
    ASSERT_FALSE(again.ok());
    EXPECT_THAT(again.error(), HasSubstr("already exists"));

    EXPECT_TRUE(remove_worker_dir(dir).ok());
    EXPECT_FALSE(std::filesystem::exists(dir));
    EXPECT_TRUE(remove_worker_dir(dir).ok());  // removing a missing dir succeeds
}

TEST(DockerWorkerDir, AFailedMakeLeavesNoMountBehind) {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting the worker dir's tmpfs needs root";
    TempDir tmp;
    const std::string dir = tmp.path() + "/0123456789ab";
    auto st = make_worker_dir(dir, ::getuid(), ::getgid(), "no/such/agent.key", "k");  // the key cannot be made
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(st.error(), HasSubstr("create " + dir + "/no/such/agent.key"));
    EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(DockerWorkerDir, LeftoversAreUnmountedAndRemoved) {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting the worker dir's tmpfs needs root";
    TempDir tmp;
    const std::string mounted = tmp.path() + "/00000000000a";
    ASSERT_TRUE(make_worker_dir(mounted, ::getuid(), ::getgid(), "agent.key", "k").ok());
    ASSERT_TRUE(is_mount_point(mounted));
    const std::string plain = tmp.path() + "/00000000000b";  // made before worker dirs had a tmpfs
    std::filesystem::create_directories(plain + "/sub");
    std::ofstream(plain + "/sub/agent.key") << "k";
    for (const auto& dir : {mounted, plain}) {
        auto st = remove_worker_dir(dir);
        EXPECT_TRUE(st.ok()) << st.error();
        EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
    }
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

    if (::geteuid() != 0) GTEST_SKIP() << "creating a worker mounts its dir's tmpfs: needs root";
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
