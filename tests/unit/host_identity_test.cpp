// The workers' ids must belong to no host account: the docker-backend (agent and kernel users) and
// the loop-disk plugin (the volumes' owner) refuse to start otherwise. Tried with the ids of
// accounts this host has (from its user and group databases) and with the defaults.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "backend_config.hpp"
#include "docker_backend.hpp"
#include "host_facts.hpp"
#include "loop_disk_storage.hpp"

namespace {

using ::testing::HasSubstr;

// An account of this host other than root (ids 0 are outside the backend's range), as NSS lists it.
struct HostAccount {
    uid_t uid = 0;
    std::string user;
    gid_t gid = 0;
    std::string group;
};

HostAccount some_host_account() {
    HostAccount account;
    ::setpwent();
    while (const passwd* entry = ::getpwent()) {
        if (entry->pw_uid == 0) continue;
        account.uid = entry->pw_uid;
        account.user = entry->pw_name;
        break;
    }
    ::endpwent();
    ::setgrent();
    while (const group* entry = ::getgrent()) {
        if (entry->gr_gid == 0) continue;
        account.gid = entry->gr_gid;
        account.group = entry->gr_name;
        break;
    }
    ::endgrent();
    return account;
}

TEST(HostIdentity, TheDefaultIdsBelongToNoHostAccount) {
    const ci::docker::BackendConfig config;
    EXPECT_EQ(ci::docker::host_identity_conflicts(config), "");
    EXPECT_EQ(ci::loopdisk::host_owner_conflicts(ci::loopdisk::StorageConfig{}), "");
}

TEST(HostIdentity, AnIdOfAHostAccountIsNamed) {
    const HostAccount account = some_host_account();
    ASSERT_FALSE(account.user.empty()) << "no user but root in this host's user database";
    ASSERT_FALSE(account.group.empty()) << "no group but root in this host's group database";

    ci::docker::BackendConfig config;
    config.kernel_uid = account.uid;
    config.agent_gid = account.gid;
    EXPECT_EQ(ci::docker::host_identity_conflicts(config),
              "agent_gid " + std::to_string(account.gid) + " is the host group '" + account.group + "'; kernel_uid " +
                  std::to_string(account.uid) + " is the host user '" + account.user + "'");

    ci::loopdisk::StorageConfig storage;
    storage.owner_uid = 0;  // root too
    EXPECT_EQ(ci::loopdisk::host_owner_conflicts(storage), "owner_uid 0 is the host user 'root'");
    storage.owner_uid = account.uid;
    storage.owner_gid = account.gid;
    EXPECT_EQ(ci::loopdisk::host_owner_conflicts(storage),
              "owner_uid " + std::to_string(account.uid) + " is the host user '" + account.user + "'; owner_gid " +
                  std::to_string(account.gid) + " is the host group '" + account.group + "'");
}

TEST(HostIdentity, TheBackendRefusesToStartBeforeAnythingElse) {
    const HostAccount account = some_host_account();
    ASSERT_FALSE(account.user.empty());
    ci::docker::BackendConfig config;
    config.socket = "/nonexistent/docker.sock";  // never reached: the ids are checked first
    config.agent_uid = account.uid;
    ci::docker::DockerBackend backend(config, nullptr);
    try {
        backend.check_startup();
        FAIL() << "started with a host account's uid";
    } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("the workers' ids must belong to no host account"));
        EXPECT_THAT(e.what(), HasSubstr("agent_uid " + std::to_string(account.uid) + " is the host user '" +
                                        account.user + "'"));
    }
}

TEST(HostIdentity, TheLoopDiskRefusesToStart) {
    if (::geteuid() != 0) GTEST_SKIP() << "the loop-disk plugin checks for root first";
    ci::loopdisk::StorageConfig config;
    config.image_dir = "/nonexistent-ci-test/images";  // never made: the ids are checked first
    config.mount_dir = "/nonexistent-ci-test/mounts";
    config.owner_uid = 0;
    try {
        ci::loopdisk::LoopDiskStorage storage(config, nullptr);
        FAIL() << "started with root as the volumes' owner";
    } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("the volumes' owner must be no host account"));
        EXPECT_THAT(e.what(), HasSubstr("owner_uid 0 is the host user 'root'"));
    }
}

}  // namespace
