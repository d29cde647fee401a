#pragma once
// Looking up accounts and dropping root for good.
#include <sys/types.h>

#include <string>
#include <vector>

namespace ci::agent {

struct UserAccount {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;  // primary group
};

// The passwd entry for name; throws std::runtime_error naming the user when there is none.
UserAccount lookup_user(const std::string& name);

// Sets real, effective and saved gid to gid, the supplementary groups to exactly groups, then
// real, effective and saved uid to uid (which clears every capability), then no_new_privs; and
// checks that neither uid 0 nor gid 0 can be regained. Needs CAP_SETGID and CAP_SETUID; throws
// std::system_error when a step fails.
void drop_privileges(uid_t uid, gid_t gid, const std::vector<gid_t>& groups);

}  // namespace ci::agent
