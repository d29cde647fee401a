#include "code_interpreter/agent/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "code_interpreter/agent/log.hpp"

namespace ci::agent {

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

void drop_privileges(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
    if (uid == 0 || gid == 0) throw std::runtime_error("refusing to run as uid 0 or gid 0");
    // Groups first: changing them needs CAP_SETGID, which setresuid to non-root takes away.
    if (::setresgid(gid, gid, gid) != 0) throw errno_error("setresgid");
    if (::setgroups(groups.size(), groups.data()) != 0) throw errno_error("setgroups");
    if (::setresuid(uid, uid, uid) != 0) throw errno_error("setresuid");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw errno_error("PR_SET_NO_NEW_PRIVS");
    if (::setuid(0) == 0 || ::setgid(0) == 0)
        throw std::runtime_error("privileges were not dropped: root can be regained");
}

}  // namespace ci::agent
