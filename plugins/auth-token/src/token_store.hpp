#pragma once
// Where a token comes from: given in the configuration, or kept in a file (mode 0600) that is
// created with a fresh random 256-bit token on first start and reused afterwards.
#include <string>
#include <utility>
#include <vector>

namespace ci::auth {

// Reads the token in path; when the file does not exist, writes a new random token there first.
// Throws std::runtime_error naming the path when the file cannot be read, created or is unsafe.
std::string load_or_create_token(const std::string& path);

// The tenants' tokens in path (not accessible by group or others, at most 1 MiB): one
// "<name> <token>" per line; blank lines and lines starting with # are skipped. Throws
// std::runtime_error naming the path and the line when it cannot be read or a line is malformed
// (never showing a token).
std::vector<std::pair<std::string, std::string>> read_tenant_tokens(const std::string& path);

}  // namespace ci::auth
