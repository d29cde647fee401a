#include "storage_config.hpp"

#include "code_interpreter/plugin/settings.hpp"

#include <sys/mount.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>

namespace ci::loopdisk {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& table, const std::string& key, const std::string& problem) {
    throw std::invalid_argument(table + "." + key + ": " + problem);
}

// An absolute, normalised directory path without a trailing slash.
std::string directory_path(const std::string& table, const std::string& key, const std::string& value,
                           const std::string& config_dir) {
    std::filesystem::path p(value);
    if (p.is_relative()) p = std::filesystem::path(config_dir.empty() ? "." : config_dir) / p;
    std::string s = std::filesystem::absolute(p).lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    if (s == "/") fail(table, key, "must not be the root directory");
    // The mount point travels in a Docker bind specification "<host>:<container>:rw".
    if (s.find_first_of(":,\n\r") != std::string::npos) fail(table, key, "'" + s + "' must not hold ':' ',' or a line break");
    return s;
}

bool instance_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

MountOptions parse_mount_options(const std::string& options) {
    // Flags mount(2) takes as bits; everything else is an ext4 option handed over in `data`.
    static const std::map<std::string, unsigned long, std::less<>> kFlags = {
        {"nosuid", MS_NOSUID},         {"nodev", MS_NODEV},         {"noexec", MS_NOEXEC},
        {"noatime", MS_NOATIME},       {"nodiratime", MS_NODIRATIME}, {"relatime", MS_RELATIME},
        {"strictatime", MS_STRICTATIME}, {"lazytime", MS_LAZYTIME}, {"sync", MS_SYNCHRONOUS},
        {"dirsync", MS_DIRSYNC},
    };
    // Options that would weaken the volume or change what kind of mount this is.
    static const std::set<std::string, std::less<>> kRefused = {
        "suid", "dev", "ro", "remount", "bind", "rbind", "move", "shared", "rshared", "slave", "rslave",
        "private", "rprivate", "unbindable", "runbindable", "defaults", "user", "users", "owner", "group",
    };
    MountOptions out;
    out.flags = MS_NOSUID | MS_NODEV;
    std::string_view rest(options);
    while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view token = rest.substr(0, comma);
        if (token.empty()) {
            if (comma == std::string_view::npos && options.empty()) break;
            throw std::invalid_argument("empty option in '" + options + "'");
        }
        for (char c : token) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '=' || c == '.' ||
                            c == '-';
            if (!ok) throw std::invalid_argument("option '" + std::string(token) + "' holds a character other than [a-z0-9_=.-]");
        }
        if (auto it = kFlags.find(token); it != kFlags.end()) {
            out.flags |= it->second;
        } else if (kRefused.count(token)) {
            throw std::invalid_argument("option '" + std::string(token) +
                                        "' is not allowed (volumes are always read-write, nosuid and nodev)");
        } else if (token != "rw" && token != "exec") {  // the defaults anyway
            if (!out.data.empty()) out.data += ',';
            out.data += token;
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

StorageConfig parse_storage_config(const json& config, const std::string& config_dir, const std::string& table) {
    ci::plugin::Settings reader(config, table);
    StorageConfig c;
    constexpr std::uint32_t kMaxId = std::numeric_limits<std::int32_t>::max();
    c.image_dir = reader.text("image_dir", c.image_dir);
    c.mount_dir = reader.text("mount_dir", c.mount_dir);
    c.instance = reader.text("instance", c.instance);
    c.owner_uid = reader.integer<std::uint32_t>("owner_uid", c.owner_uid, 0, kMaxId);
    c.owner_gid = reader.integer<std::uint32_t>("owner_gid", c.owner_gid, 0, kMaxId);
    // May be empty: nosuid,nodev still apply.
    c.mount_options = reader.text("mount_options", c.mount_options, ci::plugin::Settings::Empty::allowed);
    c.max_size_mb = reader.integer<std::uint64_t>("max_size_mb", c.max_size_mb, 1, std::uint64_t{1} << 24);  // 16 TiB, ext4's limit
    c.min_free_mb = reader.integer<std::uint64_t>("min_free_mb", c.min_free_mb, 0, std::uint64_t{1} << 32);  // 4 PiB
    reader.reject_unknown({"path"});  // the loader's own key, tolerated

    c.image_dir = directory_path(table, "image_dir", c.image_dir, config_dir);
    c.mount_dir = directory_path(table, "mount_dir", c.mount_dir, config_dir);
    if (c.image_dir == c.mount_dir) fail(table, "mount_dir", "must differ from image_dir");

    // Names are "<instance>-<worker id>" and worker ids hold no '-', so an instance "a" never
    // claims a volume of instance "a-b".
    if (c.instance.size() > 32 || !std::all_of(c.instance.begin(), c.instance.end(), instance_char) ||
        c.instance.front() == '-' || c.instance.back() == '-')
        fail(table, "instance", "'" + c.instance + "' must be 1 to 32 characters of [a-z0-9-], not starting or ending with '-'");

    try {
        c.mount = parse_mount_options(c.mount_options);
    } catch (const std::invalid_argument& e) {
        fail(table, "mount_options", e.what());
    }
    return c;
}

}  // namespace ci::loopdisk
