#pragma once
// The per-worker gateway key the host writes into the run directory.
#include <filesystem>
#include <string>

namespace ci::agent {

// Reads the key at path, without trailing whitespace. Throws std::runtime_error when the file is
// missing, is not a regular file, can be read by group or others, or holds no key.
std::string read_key_file(const std::filesystem::path& path);

}  // namespace ci::agent
