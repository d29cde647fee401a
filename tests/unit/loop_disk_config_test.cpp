// Unit tests of the loop-disk storage plugin's configuration parsing (no root, no loop devices).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "storage_config.hpp"

namespace {

using ci::loopdisk::parse_mount_options;
using ci::loopdisk::parse_storage_config;
using ci::loopdisk::StorageConfig;
using nlohmann::json;
using ::testing::HasSubstr;

// The message of the std::invalid_argument that parsing `config` throws ("" when it does not).
std::string parse_error(const json& config) {
    try {
        parse_storage_config(config, "/etc/ci");
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

TEST(LoopDiskConfig, DefaultsForMissingOrEmptyTable) {
    for (const json& table : {json(nullptr), json::object()}) {
        const StorageConfig c = parse_storage_config(table, "/etc/ci");
        EXPECT_EQ(c.image_dir, "/var/lib/code-interpreter/disks");
        EXPECT_EQ(c.mount_dir, "/run/code-interpreter-disks");
        EXPECT_EQ(c.instance, "default");
        EXPECT_EQ(c.owner_uid, 2100001000u);  // the image's sandbox user, whose id no host account has
        EXPECT_EQ(c.owner_gid, 2100001000u);
        EXPECT_EQ(c.mount_options, "nosuid,nodev");
        EXPECT_EQ(c.max_size_mb, 65536u);
        EXPECT_EQ(c.min_free_mb, 1024u);
        EXPECT_EQ(c.mount.flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV));
        EXPECT_EQ(c.mount.data, "");
    }
}

TEST(LoopDiskConfig, ReadsEveryKey) {
    const json table = {
        {"image_dir", "/srv/disks/"},  {"mount_dir", "/mnt/ci"},        {"instance", "gw-2"},
        {"owner_uid", 2000},           {"owner_gid", 2001},             {"mount_options", "nosuid,nodev,noexec,commit=30"},
        {"max_size_mb", 1024},         {"min_free_mb", 0},              {"path", "ignored/by/the/plugin.so"},
    };
    const StorageConfig c = parse_storage_config(table, "/etc/ci");
    EXPECT_EQ(c.image_dir, "/srv/disks");  // trailing slash dropped
    EXPECT_EQ(c.mount_dir, "/mnt/ci");
    EXPECT_EQ(c.instance, "gw-2");
    EXPECT_EQ(c.owner_uid, 2000u);
    EXPECT_EQ(c.owner_gid, 2001u);
    EXPECT_EQ(c.max_size_mb, 1024u);
    EXPECT_EQ(c.min_free_mb, 0u);  // 0 turns the check off
    EXPECT_EQ(c.mount.flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV | MS_NOEXEC));
    EXPECT_EQ(c.mount.data, "commit=30");
}

TEST(LoopDiskConfig, RelativePathsAreResolvedAgainstTheConfigDir) {
    const StorageConfig c = parse_storage_config({{"image_dir", "var/disks"}, {"mount_dir", "./var/../mnt"}}, "/etc/ci");
    EXPECT_EQ(c.image_dir, "/etc/ci/var/disks");
    EXPECT_EQ(c.mount_dir, "/etc/ci/mnt");
}

TEST(LoopDiskConfig, UnknownKeyIsNamed) {
    EXPECT_THAT(parse_error({{"image_dri", "/x"}}), HasSubstr("plugins.loop-disk.image_dri: unknown setting"));
}

TEST(LoopDiskConfig, WrongTypesAndRangesAreNamed) {
    EXPECT_THAT(parse_error({{"image_dir", 5}}), HasSubstr("plugins.loop-disk.image_dir: expected a string"));
    EXPECT_THAT(parse_error({{"mount_dir", ""}}), HasSubstr("plugins.loop-disk.mount_dir: must not be empty"));
    EXPECT_THAT(parse_error({{"owner_uid", -1}}), HasSubstr("plugins.loop-disk.owner_uid: must be between"));
    EXPECT_THAT(parse_error({{"owner_gid", "1000"}}), HasSubstr("plugins.loop-disk.owner_gid: expected an integer"));
    EXPECT_THAT(parse_error({{"max_size_mb", 0}}), HasSubstr("plugins.loop-disk.max_size_mb: must be between 1"));
    EXPECT_THAT(parse_error({{"min_free_mb", -1}}), HasSubstr("plugins.loop-disk.min_free_mb: must be between 0"));
    EXPECT_THAT(parse_error({{"min_free_mb", 1.5}}), HasSubstr("plugins.loop-disk.min_free_mb: expected an integer"));
    EXPECT_THAT(parse_error({{"min_free_mb", std::uint64_t{1} << 40}}), HasSubstr("plugins.loop-disk.min_free_mb"));
    EXPECT_THAT(parse_error({{"mount_options", true}}), HasSubstr("plugins.loop-disk.mount_options: expected a string"));
    EXPECT_THAT(parse_error(json::array()), HasSubstr("plugins.loop-disk: expected a table"));
}

TEST(LoopDiskConfig, DirectoriesMustBeUsable) {
    EXPECT_THAT(parse_error({{"image_dir", "/"}}), HasSubstr("image_dir: must not be the root directory"));
    EXPECT_THAT(parse_error({{"mount_dir", "/run/a:b"}}), HasSubstr("mount_dir: '/run/a:b' must not hold"));
    EXPECT_THAT(parse_error({{"mount_dir", "/run/a,b"}}), HasSubstr("mount_dir"));
    EXPECT_THAT(parse_error({{"image_dir", "/srv/x"}, {"mount_dir", "/srv/x/"}}), HasSubstr("must differ from image_dir"));
}

TEST(LoopDiskConfig, InstanceMustBeAPlainName) {
    for (const char* bad : {"Upper", "a_b", "a/b", "-a", "a-", "a.b", "abcdefghijklmnopqrstuvwxyz0123456"})
        EXPECT_THAT(parse_error({{"instance", bad}}), HasSubstr("plugins.loop-disk.instance")) << bad;
    EXPECT_EQ(parse_error({{"instance", "t123-ld"}}), "");
}

TEST(LoopDiskConfig, MountOptionsAlwaysKeepNosuidNodev) {
    const auto empty = parse_mount_options("");
    EXPECT_EQ(empty.flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV));
    const auto some = parse_mount_options("noatime,rw,exec,discard,errors=remount-ro");
    EXPECT_EQ(some.flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV | MS_NOATIME));
    EXPECT_EQ(some.data, "discard,errors=remount-ro");
}

TEST(LoopDiskConfig, MountOptionsThatWeakenTheVolumeAreRefused) {
    for (const char* bad : {"suid", "nosuid,dev", "ro", "bind", "shared", "defaults"})
        EXPECT_THROW(parse_mount_options(bad), std::invalid_argument) << bad;
    for (const char* bad : {"nosuid,,nodev", "nosuid,", "NOSUID", "a b", "x\"y"})
        EXPECT_THROW(parse_mount_options(bad), std::invalid_argument) << bad;
    EXPECT_THAT(parse_error({{"mount_options", "nosuid,suid"}}),
                HasSubstr("plugins.loop-disk.mount_options: option 'suid' is not allowed"));
}

}  // namespace
