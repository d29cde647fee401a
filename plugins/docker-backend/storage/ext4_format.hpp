#pragma once
// Puts an empty ext4 file system into a new sparse image file: either by running mkfs.ext4 on it,
// or by copying the data blocks of a template image made once per size with mkfs.ext4.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "code_interpreter/fd/unique_fd.hpp"
#include "code_interpreter/plugin/result.hpp"

namespace ci::loopdisk {

using ci::fd::UniqueFd;

enum class FormatMethod { mkfs, template_copy };

// The first executable mkfs.ext4 in the sbin/bin directories or in $PATH.
std::optional<std::string> find_mkfs_ext4();

// The mkfs.ext4 command line for `target` (a path). 4 KiB blocks and one inode per 16 KiB for any
// size (mke2fs would pick 1 KiB blocks and 4 KiB per inode below 512 MB); no reserved blocks, so
// the owner gets the whole size; no journal: a volume lives only as long as its worker and is
// thrown away after a crash, so the journal would only cost space and writes; inode tables are
// not written (mke2fs discards the sparse file, which then reads as zeros).
std::vector<std::string> mkfs_arguments(const std::string& mkfs, const std::string& target);

// Runs argv (no shell) with an empty environment but LC_ALL=C, waiting at most timeout_s seconds.
// Failure carries the exit status and what the program wrote to stdout/stderr.
ci::plugin::Status run_program(const std::vector<std::string>& argv, int timeout_s);

// Copies `size` bytes of `src` into `dst` (already that size and all holes) without filling holes:
// FICLONE where the file system shares blocks, else only the data ranges (SEEK_DATA/SEEK_HOLE).
ci::plugin::Status copy_sparse(int src, int dst, std::uint64_t size);

// Formats new image files. Thread-safe; templates are made once per size under template_dir and
// shared by every process that uses the same directory (made unnamed, then linked into place).
class Ext4Formatter {
public:
    Ext4Formatter(FormatMethod method, std::string mkfs, std::string template_dir);

    // `image_fd`/`image_path`: a new, empty file already truncated to size_mb.
    ci::plugin::Status format(int image_fd, const std::string& image_path, std::uint64_t size_mb);

    FormatMethod method() const { return method_; }

private:
    ci::plugin::Result<UniqueFd> open_template(std::uint64_t size_mb);

    FormatMethod method_;
    std::string mkfs_;
    std::string template_dir_;
    std::mutex template_mu_;  // one template made at a time; the others wait and then share it
};

}  // namespace ci::loopdisk
