#pragma once
// Looking up accounts and dropping root for good.
//
// The container starts the agent as root with only CAP_SETUID, CAP_SETGID and CAP_SETPCAP (plus
// CAP_NET_ADMIN in the networked modes, used before this point for the firewall). Both the agent
// and the kernel's supervisor leave root through drop_privileges, which ends with every capability
// set empty (inheritable, permitted, effective, bounding, ambient), no_new_privs set and these
// securebits, locked so that nothing later can undo them:
//   SECBIT_NOROOT (+LOCKED)        uid 0 gains no capabilities at exec, should it ever come back;
//   SECBIT_NO_SETUID_FIXUP_LOCKED  the kernel's "setuid fixup" stays ON: leaving uid 0 clears the
//                                  permitted, effective and ambient sets (the bit is locked off);
//   SECBIT_KEEP_CAPS_LOCKED        KEEP_CAPS stays OFF: capabilities cannot survive the uid change;
//   SECBIT_NO_CAP_AMBIENT_RAISE (+LOCKED)  no ambient capability can ever be raised.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ci::agent {

struct UserAccount {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;  // primary group
};

// The passwd entry for name; throws std::runtime_error naming the user when there is none.
UserAccount lookup_user(const std::string& name);

// The securebits drop_privileges sets (see above).
unsigned long locked_securebits();

// The highest capability number the running kernel knows (/proc/sys/kernel/cap_last_cap, or the
// headers' CAP_LAST_CAP when that cannot be read).
int last_capability();

// The capability sets and flags of a process, as /proc/<pid>/status shows them.
struct CapabilityStatus {
    std::uint64_t inheritable = ~0ULL;  // CapInh
    std::uint64_t permitted = ~0ULL;    // CapPrm
    std::uint64_t effective = ~0ULL;    // CapEff
    std::uint64_t bounding = ~0ULL;     // CapBnd
    std::uint64_t ambient = ~0ULL;      // CapAmb
    int no_new_privs = -1;              // NoNewPrivs
    bool all_dropped() const {
        return (inheritable | permitted | effective | bounding | ambient) == 0 && no_new_privs == 1;
    }
};

// Parses the text of /proc/<pid>/status; fields it does not find keep their (failing) defaults.
CapabilityStatus parse_capability_status(std::string_view status_text);

// Clears the ambient set, empties the bounding set (needs CAP_SETPCAP unless it is already empty),
// sets and locks the securebits above and clears the inheritable set; then, in this order,
// setresgid(gid), setgroups(groups), setresuid(uid) (which clears the remaining capabilities) and
// PR_SET_NO_NEW_PRIVS. Finally checks that every capability set is empty and that neither uid 0
// nor gid 0 can be regained. Refuses uid 0 / gid 0. Throws std::system_error (or
// std::runtime_error) naming the step that failed.
void drop_privileges(uid_t uid, gid_t gid, const std::vector<gid_t>& groups);

// No core dumps (hard limit 0) and not dumpable: no core file, ptrace or /proc/<pid>/mem,
// environ or fd access for anyone, whatever the uid. For the agent, which holds the gateway key.
void make_undumpable();

}  // namespace ci::agent
