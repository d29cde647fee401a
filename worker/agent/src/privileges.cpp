#include "code_interpreter/agent/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "code_interpreter/agent/log.hpp"

namespace ci::agent {
namespace {

struct CapabilitySets {
    std::uint64_t effective = 0;
    std::uint64_t permitted = 0;
    std::uint64_t inheritable = 0;
};

// capget/capset through the raw system calls (no libcap in the image), version 3: 64 bits.
CapabilitySets get_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) throw errno_error("capget");
    auto join = [](std::uint32_t low, std::uint32_t high) {
        return static_cast<std::uint64_t>(high) << 32 | low;
    };
    return {join(data[0].effective, data[1].effective), join(data[0].permitted, data[1].permitted),
            join(data[0].inheritable, data[1].inheritable)};
}

void set_capabilities(const CapabilitySets& sets) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    for (int i = 0; i < 2; ++i) {
        data[i].effective = static_cast<std::uint32_t>(sets.effective >> (32 * i));
        data[i].permitted = static_cast<std::uint32_t>(sets.permitted >> (32 * i));
        data[i].inheritable = static_cast<std::uint32_t>(sets.inheritable >> (32 * i));
    }
    if (::syscall(SYS_capset, &header, data) != 0) throw errno_error("capset");
}

void clear_ambient_set() {
    // EINVAL: a kernel before 4.3, which has no ambient set.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        throw errno_error("PR_CAP_AMBIENT_CLEAR_ALL");
}

void empty_bounding_set() {
    const int last = last_capability();
    for (int cap = 0; cap <= last; ++cap) {
        const int present = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (present < 0) {
            if (errno == EINVAL) continue;  // unknown to this kernel
            throw errno_error("PR_CAPBSET_READ " + std::to_string(cap));
        }
        if (present == 0) continue;
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            if (errno == EPERM)
                throw errno_error("PR_CAPBSET_DROP " + std::to_string(cap) +
                                  " (needs CAP_SETPCAP: the container must be created with it)");
            throw errno_error("PR_CAPBSET_DROP " + std::to_string(cap));
        }
    }
}

void lock_securebits() {
    const int current = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (current < 0) throw errno_error("PR_GET_SECUREBITS");
    const unsigned long wanted = locked_securebits();
    if (static_cast<unsigned long>(current) == wanted) return;
    if (::prctl(PR_SET_SECUREBITS, wanted, 0, 0, 0) != 0)
        throw errno_error("PR_SET_SECUREBITS (needs CAP_SETPCAP)");
}

bool any_ambient_capability() {
    const int last = last_capability();
    for (int cap = 0; cap <= last; ++cap) {
        const int set = ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
        if (set > 0) return true;
    }
    return false;
}

bool any_bounding_capability() {
    const int last = last_capability();
    for (int cap = 0; cap <= last; ++cap)
        if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0) return true;
    return false;
}

std::uint64_t parse_hex(std::string_view text) {
    std::uint64_t value = ~0ULL;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
    if (ec != std::errc() || end != text.data() + text.size()) return ~0ULL;
    return value;
}

}  // namespace

UserAccount lookup_user(const std::string& name) {
    long suggested = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(suggested > 0 ? static_cast<std::size_t>(suggested) : 16384);
    passwd entry{};
    passwd* found = nullptr;
    int rc = 0;
    while ((rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) ==
           ERANGE)
        buffer.resize(buffer.size() * 2);
    if (rc != 0) {
        errno = rc;
        throw errno_error("cannot look up user " + name);
    }
    if (!found) throw std::runtime_error("user " + name + " does not exist (no passwd entry)");
    return UserAccount{name, entry.pw_uid, entry.pw_gid};
}

unsigned long locked_securebits() {
    return SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
           SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
           SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
}

int last_capability() {
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    int last = -1;
    if (in >> last && last >= 0 && last < 64) return last;
    return CAP_LAST_CAP;
}

CapabilityStatus parse_capability_status(std::string_view text) {
    CapabilityStatus status;
    while (!text.empty()) {
        const std::size_t end = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == text.size() ? end : end + 1);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view key = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        if (key == "CapInh") status.inheritable = parse_hex(value);
        else if (key == "CapPrm") status.permitted = parse_hex(value);
        else if (key == "CapEff") status.effective = parse_hex(value);
        else if (key == "CapBnd") status.bounding = parse_hex(value);
        else if (key == "CapAmb") status.ambient = parse_hex(value);
        else if (key == "NoNewPrivs") status.no_new_privs = value == "1" ? 1 : value == "0" ? 0 : -1;
    }
    return status;
}

void drop_privileges(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
    if (uid == 0 || gid == 0) throw std::runtime_error("refusing to run as uid 0 or gid 0");
    // While CAP_SETPCAP is still effective: nothing can be gained back through exec, ambient
    // or inherited capabilities, and the securebits cannot be changed later.
    clear_ambient_set();
    empty_bounding_set();
    lock_securebits();
    CapabilitySets sets = get_capabilities();
    sets.inheritable = 0;
    set_capabilities(sets);
    // Groups first: changing them needs CAP_SETGID, which setresuid to non-root takes away.
    if (::setresgid(gid, gid, gid) != 0) throw errno_error("setresgid");
    if (::setgroups(groups.size(), groups.data()) != 0) throw errno_error("setgroups");
    // Leaving uid 0 clears the permitted, effective and ambient sets (the fixup is locked on).
    if (::setresuid(uid, uid, uid) != 0) throw errno_error("setresuid");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw errno_error("PR_SET_NO_NEW_PRIVS");

    const CapabilitySets left = get_capabilities();
    if ((left.effective | left.permitted | left.inheritable) != 0 || any_bounding_capability() ||
        any_ambient_capability())
        throw std::runtime_error("privileges were not dropped: capabilities remain");
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        throw std::runtime_error("privileges were not dropped: no_new_privs is not set");
    if (::setuid(0) == 0 || ::setgid(0) == 0)
        throw std::runtime_error("privileges were not dropped: root can be regained");
}

void make_undumpable() {
    const rlimit no_core{0, 0};
    if (::setrlimit(RLIMIT_CORE, &no_core) != 0) throw errno_error("setrlimit(RLIMIT_CORE)");
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw errno_error("PR_SET_DUMPABLE");
}

}  // namespace ci::agent
