#pragma once
// The file operations of the agent protocol (file_write, file_read, file_list, file_delete,
// file_move: requests.hpp, agent_protocol.hpp), done beneath a directory fd of the workspace.
//
// Confinement: a path is first checked as text (workspace_path.hpp), then resolved with openat2
// and RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS from the workspace fd, so that no symbolic link is
// followed anywhere on it, nor a link swapped in while it is resolved. The last component is then
// used only through *at calls that do not follow it either (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW,
// unlinkat, renameat). Docker's default seccomp profile (20.10) allows openat2 and renameat2.
//
// The caller must already be the kernel's user: the agent itself cannot enter the workspace, so
// these run in the file server (file_server.hpp).
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "code_interpreter/protocol/requests.hpp"

namespace ci::agent {

// The reply to one file request (without its id): {"ok": true, ...} or file_failure(...).
nlohmann::json handle_file_request(int workspace, const protocol::Request& request);

// {"ok": false, "error": message, "error_kind": kind}.
nlohmann::json file_failure(std::string_view kind, const std::string& message);

}  // namespace ci::agent
