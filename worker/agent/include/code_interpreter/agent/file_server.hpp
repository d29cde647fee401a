#pragma once
// The file server: a process running as the kernel's user that does the workspace file operations
// for the agent, which may not enter the workspace itself (0700, the kernel user's).
//
// Why a process of its own rather than the supervisor or the agent: it has to be the kernel's
// user, and the supervisor's one job is to own the kernel's lifetime, which a slow recursive
// delete or a 32 MiB write must not hold up. The supervisor forks it right after dropping
// privileges (kernel_process.cpp), so the supervisor, a child subreaper, reaps it, and its
// PR_SET_PDEATHSIG ends it with the supervisor. It serves one request at a time, in order, over a
// socketpair with the agent (frames.hpp), and exits when the agent closes its end.
//
// Trust: user code runs as the same user, so it could kill the file server or take over its
// socket. That gains nothing the user does not already have, but the agent treats every reply as
// untrusted input (bounded frames, checked JSON) and fails file operations, not the worker, when
// the file server is gone.
namespace ci::agent {

// Serves requests from socket against the workspace directory fd until the socket closes.
void serve_files(int socket, int workspace);

}  // namespace ci::agent
