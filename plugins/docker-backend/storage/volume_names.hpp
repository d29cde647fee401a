#pragma once
// Names of a volume's host objects, and parsers for the kernel's text files that say what exists
// (/proc/self/mountinfo, /sys/block/loop*/loop/backing_file). Pure functions: unit-tested.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ci::loopdisk {

// 1 to 64 characters of [A-Za-z0-9_]: no '-', '.' or '/', so "<instance>-<id>" splits one way only
// and a name can never leave its directory.
bool is_valid_worker_id(std::string_view id);

std::string image_file_name(const std::string& instance, const std::string& worker_id);  // <instance>-<id>.img
std::string mount_point_name(const std::string& instance, const std::string& worker_id);  // <instance>-<id>

// The worker id a file or directory name belongs to, if it is one of this instance's.
std::optional<std::string> worker_of_image_name(std::string_view instance, std::string_view name);
std::optional<std::string> worker_of_mount_point_name(std::string_view instance, std::string_view name);

// The contents of /sys/block/loopN/loop/backing_file: a path, with " (deleted)" appended by the
// kernel once the file has been unlinked.
struct BackingFile {
    std::string path;
    bool deleted = false;
};
BackingFile parse_backing_file(std::string_view text);

// One line of /proc/<pid>/mountinfo (see proc(5)); paths are unescaped (\040 -> ' ').
struct MountEntry {
    std::string mount_point;
    std::string mount_options;  // per-mount: rw,nosuid,nodev,...
    std::string fs_type;
    std::string source;
    std::string super_options;  // per-superblock
};
// Lines that do not parse are skipped.
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// Splits "dir/name" into its parent and last component; "" parent when there is no '/'.
std::pair<std::string_view, std::string_view> split_parent(std::string_view path);

}  // namespace ci::loopdisk
