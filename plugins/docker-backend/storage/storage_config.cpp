#include "storage_config.hpp"

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

const json* find(const json& config, const std::string& key) {
    if (!config.is_object()) return nullptr;
    auto it = config.find(key);
    return it == config.end() ? nullptr : &*it;
}

void read_string(const json& config, const std::string& table, const std::string& key, std::string& out) {
    const json* v = find(config, key);
    if (!v) return;
    if (!v->is_string()) fail(table, key, "expected a string, got " + std::string(v->type_name()));
    out = v->get<std::string>();
    if (out.empty()) fail(table, key, "must not be empty");
}

template <class Int>
void read_integer(const json& config, const std::string& table, const std::string& key, Int& out,
                  std::uint64_t min, std::uint64_t max) {
    const json* v = find(config, key);
    if (!v) return;
    if (!v->is_number_integer()) fail(table, key, "expected an integer, got " + std::string(v->type_name()));
    const bool negative = !v->is_number_unsigned() && v->get<std::int64_t>() < 0;
    const std::uint64_t value = negative ? 0 : v->get<std::uint64_t>();
    if (negative || value < min || value > max)
        fail(table, key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v->dump());
    out = static_cast<Int>(value);
}

// An absolute, normalised directory path without a trailing slash.
std::string directory_path(const json& config, const std::string& table, const std::string& key,
                           const std::string& value, const std::string& config_dir) {
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
    if (!config.is_null() && !config.is_object())
        throw std::invalid_argument(table + ": expected a table, got " + std::string(config.type_name()));
    static const std::set<std::string> kKnown = {"image_dir",  "mount_dir",     "instance",    "owner_uid",
                                                 "owner_gid",  "mount_options", "max_size_mb", "min_free_mb",
                                                 "path"};  // the loader's own key, tolerated
    if (config.is_object()) {
        for (const auto& [key, value] : config.items())
            if (!kKnown.count(key))
                fail(table, key, "unknown key (known: image_dir, mount_dir, instance, owner_uid, owner_gid, "
                                 "mount_options, max_size_mb, min_free_mb)");
    }

    StorageConfig c;
    constexpr std::uint64_t kMaxId = std::numeric_limits<std::int32_t>::max();
    read_string(config, table, "image_dir", c.image_dir);
    read_string(config, table, "mount_dir", c.mount_dir);
    read_string(config, table, "instance", c.instance);
    read_integer(config, table, "owner_uid", c.owner_uid, 0, kMaxId);
    read_integer(config, table, "owner_gid", c.owner_gid, 0, kMaxId);
    if (find(config, "mount_options")) {
        const json& v = *find(config, "mount_options");
        if (!v.is_string()) fail(table, "mount_options", "expected a string, got " + std::string(v.type_name()));
        c.mount_options = v.get<std::string>();  // may be empty: nosuid,nodev still apply
    }
    read_integer(config, table, "max_size_mb", c.max_size_mb, 1, std::uint64_t{1} << 24);  // 16 TiB, ext4's limit
    read_integer(config, table, "min_free_mb", c.min_free_mb, 0, std::uint64_t{1} << 32);   // 4 PiB

    c.image_dir = directory_path(config, table, "image_dir", c.image_dir, config_dir);
    c.mount_dir = directory_path(config, table, "mount_dir", c.mount_dir, config_dir);
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
