#pragma once
// The paths of the file operations, checked as text before any system call sees them. This is the
// first of two guards: the file operations then resolve every path beneath the workspace without
// following any symbolic link (workspace_files.hpp).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ci::agent {

struct WorkspacePath {
    // The names along the path, without empty and "." ones; empty for the workspace itself.
    std::vector<std::string> components;
    std::string error;  // why the path is refused (then components is empty)
};

// Refuses an empty path, an absolute one, a ".." component, a NUL byte and a path longer than
// PATH_MAX; "a//b/./c/" is a/b/c.
WorkspacePath parse_workspace_path(std::string_view path);

// The first count components joined with "/", or "." when count is 0: a path for openat2.
std::string join_components(const std::vector<std::string>& components, std::size_t count);

}  // namespace ci::agent
