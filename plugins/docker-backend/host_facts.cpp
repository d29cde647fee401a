#include "host_facts.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

namespace ci::docker {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Calls lookup(buffer, size) with a buffer grown while it answers ERANGE.
template <class Lookup>
int with_buffer(Lookup lookup) {
    std::vector<char> buffer(1024);
    int rc = 0;
    while ((rc = lookup(buffer.data(), buffer.size())) == ERANGE && buffer.size() < (1u << 20))
        buffer.resize(buffer.size() * 2);
    return rc;
}

}  // namespace

std::string host_user_name(uid_t uid) {
    std::string name;
    with_buffer([&](char* buffer, std::size_t size) {
        passwd entry{};
        passwd* found = nullptr;
        const int rc = ::getpwuid_r(uid, &entry, buffer, size, &found);
        if (rc == 0 && found) name = found->pw_name;
        return rc;
    });
    return name;
}

std::string host_group_name(gid_t gid) {
    std::string name;
    with_buffer([&](char* buffer, std::size_t size) {
        group entry{};
        group* found = nullptr;
        const int rc = ::getgrgid_r(gid, &entry, buffer, size, &found);
        if (rc == 0 && found) name = found->gr_name;
        return rc;
    });
    return name;
}

std::string host_identity_conflicts(const BackendConfig& config) {
    std::string conflicts;
    const auto add = [&](const char* key, std::uint32_t id, const std::string& account, const char* kind) {
        if (account.empty()) return;
        conflicts += std::string(conflicts.empty() ? "" : "; ") + key + " " + std::to_string(id) + " is the host " +
                     kind + " '" + account + "'";
    };
    add("agent_uid", config.agent_uid, host_user_name(config.agent_uid), "user");
    add("agent_gid", config.agent_gid, host_group_name(config.agent_gid), "group");
    add("kernel_uid", config.kernel_uid, host_user_name(config.kernel_uid), "user");
    add("kernel_gid", config.kernel_gid, host_group_name(config.kernel_gid), "group");
    return conflicts;
}

bool apparmor_enabled(const std::string& sys) {
    struct stat st;
    if (::stat((sys + "/kernel/security/apparmor").c_str(), &st) != 0) return false;
    return read_file(sys + "/module/apparmor/parameters/enabled").rfind('Y', 0) == 0;
}

std::string uevent_device_name(std::string_view uevent) {
    constexpr std::string_view key = "DEVNAME=";
    for (std::size_t pos = 0; pos < uevent.size();) {
        std::size_t end = uevent.find('\n', pos);
        if (end == std::string_view::npos) end = uevent.size();
        const std::string_view line = uevent.substr(pos, end - pos);
        if (line.substr(0, key.size()) == key) {
            const std::string_view name = line.substr(key.size());
            // A name under /dev, never a way out of it.
            if (name.empty() || name.find("..") != std::string_view::npos) return {};
            return std::string(name);
        }
        pos = end + 1;
    }
    return {};
}

std::string block_device_of(const std::string& path, const std::string& sys, const std::string& dev) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return {};
    const std::string numbers = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
    const std::string name = uevent_device_name(read_file(sys + "/dev/block/" + numbers + "/uevent"));
    if (name.empty()) return {};
    // Docker resolves the node to its numbers again: it must be that very device.
    const std::string node = dev + "/" + name;
    struct stat node_st;
    if (::stat(node.c_str(), &node_st) != 0 || !S_ISBLK(node_st.st_mode) || node_st.st_rdev != st.st_dev) return {};
    return node;
}

}  // namespace ci::docker
