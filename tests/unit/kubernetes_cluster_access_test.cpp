// Where the Kubernetes backend finds the API: a pod's service account (environment and mounted
// files) or explicit settings, and the bearer token read again when kubelet rotates it.
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "cluster_access.hpp"

namespace ci::kube {
namespace {

namespace fs = std::filesystem;

class ClusterAccessTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "ci-kube-sa.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }
    void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

    fs::path dir_;
};

TEST_F(ClusterAccessTest, InAPodEverythingComesFromTheServiceAccount) {
    write("namespace", "code-interpreter\n");
    const std::map<std::string, std::string> env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
    const ClusterAccess access = resolve_cluster_access({}, env, dir_.string());
    EXPECT_EQ(access.api_url, "https://10.96.0.1:443");
    EXPECT_EQ(access.token_file, (dir_ / "token").string());
    EXPECT_EQ(access.ca_file, (dir_ / "ca.crt").string());
    EXPECT_EQ(access.namespace_, "code-interpreter");

    const std::map<std::string, std::string> v6{{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
    EXPECT_EQ(resolve_cluster_access({}, v6, dir_.string()).api_url, "https://[fd00:10:96::1]:443");
}

TEST_F(ClusterAccessTest, OutsideAPodTheSettingsSayItAndWhatIsMissingIsNamed) {
    const ExplicitAccess given{"https://k8s.example:6443/", "/etc/ci/token", "/etc/ci/ca.pem", "sandboxes"};
    const ClusterAccess access = resolve_cluster_access(given, {}, dir_.string());
    EXPECT_EQ(access.api_url, "https://k8s.example:6443");
    EXPECT_EQ(access.token_file, "/etc/ci/token");
    EXPECT_EQ(access.ca_file, "/etc/ci/ca.pem");
    EXPECT_EQ(access.namespace_, "sandboxes");

    try {
        resolve_cluster_access({}, {}, dir_.string());
        FAIL() << "no API address anywhere";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("set api_url"), std::string::npos) << e.what();
    }
    try {
        resolve_cluster_access({"https://k8s.example:6443", "", "", ""}, {}, dir_.string());
        FAIL() << "no namespace anywhere";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("set namespace"), std::string::npos) << e.what();
    }
    EXPECT_THROW(resolve_cluster_access({"http://k8s.example:8080", "", "", "x"}, {}, dir_.string()),
                 std::invalid_argument)
        << "the token never travels unencrypted";
}

TEST_F(ClusterAccessTest, TheTokenIsReadAgainWhenKubeletSwapsIt) {
    // kubelet's layout: token -> ..data/token, ..data -> a timestamped directory, swapped atomically.
    fs::create_directory(dir_ / "v1");
    std::ofstream(dir_ / "v1" / "token") << "first-token\n";
    fs::create_directory_symlink("v1", dir_ / "..data");
    fs::create_symlink("..data/token", dir_ / "token");
    BearerToken token((dir_ / "token").string());
    EXPECT_EQ(token.get(), "first-token");

    fs::create_directory(dir_ / "v2");
    std::ofstream(dir_ / "v2" / "token") << "second-token";
    fs::create_directory_symlink("v2", dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");
    EXPECT_EQ(token.get(), "second-token");

    fs::remove_all(dir_ / "v2");
    EXPECT_THROW(token.get(), std::runtime_error) << "a token that went is an error, not the old one";
    std::ofstream(dir_ / "empty") << "\n";
    EXPECT_THROW(BearerToken((dir_ / "empty").string()).get(), std::runtime_error);
}

}  // namespace
}  // namespace ci::kube
