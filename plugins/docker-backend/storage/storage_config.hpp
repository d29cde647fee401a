#pragma once
// The [plugins.loop-disk] table of config.toml, parsed and checked.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ci::loopdisk {

// mount(2) arguments made from the `mount_options` key. nosuid and nodev are always in `flags`.
struct MountOptions {
    unsigned long flags = 0;
    std::string data;  // file-system options passed through to ext4 (e.g. "commit=30")
};

struct StorageConfig {
    std::string image_dir = "/var/lib/code-interpreter/disks";  // sparse <instance>-<worker>.img files
    std::string mount_dir = "/run/code-interpreter-disks";      // <instance>-<worker> mount points
    std::string instance = "default";                           // scopes names between gateways
    // Owner of each volume's root: the image's sandbox user (docker/Dockerfile), whose id no host
    // account has (docs/security.md, "Identities").
    std::uint32_t owner_uid = 2100001000;
    std::uint32_t owner_gid = 2100001000;
    std::string mount_options = "nosuid,nodev";
    std::uint64_t max_size_mb = 65536;                          // larger allocations are refused
    // Space kept free on image_dir's file system: the images are sparse and fill it only as users
    // write, so allocate refuses unless what every image there may still grow by, plus size_mb and
    // min_free_mb, is available. 0: no check.
    std::uint64_t min_free_mb = 1024;
    MountOptions mount;                                         // parsed from mount_options
};

// Parses the plugin's table (null or an object). Relative paths are resolved against config_dir.
// Throws std::invalid_argument whose what() names the key (as "<table>.<key>") and the problem.
StorageConfig parse_storage_config(const nlohmann::json& config, const std::string& config_dir,
                                   const std::string& table = "plugins.loop-disk");

// Parses a comma-separated option list. Throws std::invalid_argument naming the bad option.
MountOptions parse_mount_options(const std::string& options);

}  // namespace ci::loopdisk
