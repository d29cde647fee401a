#pragma once
// The workers' seccomp profile: seccomp.json of this directory, compiled into the plugin so that a
// worker can never start without it. Docker 20.10.24's default profile less the system calls
// docs/security.md lists (io_uring, ptrace and its kin, bpf, perf_event_open, modify_ldt).
#include <string_view>

namespace ci::docker {

extern const std::string_view kSeccompProfile;  // Docker's profile format (JSON)

}  // namespace ci::docker
