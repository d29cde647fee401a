#include "code_interpreter/agent/workspace_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <system_error>
#include <type_traits>
#include <vector>

#include "code_interpreter/agent/workspace_path.hpp"
#include "code_interpreter/fd/unique_fd.hpp"
#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/base64.hpp"

namespace ci::agent {
namespace {

using ci::fd::UniqueFd;
using nlohmann::json;
using protocol::kMaxFileBytes;

// Directories deeper than this are not deleted: each level holds an fd and a stack frame.
constexpr int kMaxDeleteDepth = 1000;
// Names read from a directory at a time while deleting it.
constexpr std::size_t kDeleteBatch = 4096;

struct FileError {
    std::string kind;
    std::string message;
};

json failure(const FileError& error) { return file_failure(error.kind, error.message); }

std::string in_quotes(std::string_view path) { return "\"" + std::string(path) + "\""; }

// What a failed call with errno err means for path, the path it was about.
FileError errno_failure(int err, const std::string& path) {
    const std::string q = in_quotes(path);
    switch (err) {
        case ENOENT: return {"not_found", q + " does not exist"};
        case ELOOP:
            return {"invalid_path",
                    q + " goes through a symbolic link, which file operations never follow"};
        case EXDEV: return {"invalid_path", q + " leads outside the workspace"};
        case ENAMETOOLONG: return {"invalid_path", q + " has a name that is too long"};
        case ENOTDIR: return {"not_a_directory", q + " is not a directory"};
        case EISDIR: return {"is_a_directory", q + " is a directory"};
        case EEXIST: return {"exists", q + " already exists"};
        case ENOTEMPTY: return {"not_empty", q + " is not empty"};
        case ENOSPC:
        case EDQUOT: return {"no_space", "the workspace has no space left for " + q};
        default:
            return {"io", q + ": " + std::generic_category().message(err)};
    }
}

FileError too_large(const std::string& path, std::uint64_t size, std::uint64_t limit) {
    return {"too_large", in_quotes(path) + " is " + std::to_string(size) +
                             " bytes, more than the limit of " + std::to_string(limit) + " bytes"};
}

// path beneath dir, never through a symbolic link (see the header); errno is set on failure.
UniqueFd open_beneath(int dir, const std::string& path, int flags) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
    for (;;) {
        const long fd = ::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how);
        // EAGAIN: a rename raced with the resolution, which the kernel refuses to guess about.
        if (fd < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        return UniqueFd(static_cast<int>(fd));
    }
}

// The directory that holds the last component of target; with make_parents, missing
// directories on the way are created (0755, before the umask).
std::optional<FileError> open_parent(int workspace, const WorkspacePath& target, bool make_parents,
                                     UniqueFd& out) {
    const auto& names = target.components;
    const std::size_t depth = names.size() - 1;
    if (!make_parents) {
        out = open_beneath(workspace, join_components(names, depth), O_PATH | O_DIRECTORY);
        if (!out) return errno_failure(errno, join_components(names, depth));
        return std::nullopt;
    }
    out = open_beneath(workspace, ".", O_PATH | O_DIRECTORY);
    if (!out) return errno_failure(errno, ".");
    for (std::size_t i = 0; i < depth; ++i) {
        // An existing symbolic link of that name is refused by the open below, not followed.
        if (::mkdirat(out.get(), names[i].c_str(), 0755) != 0 && errno != EEXIST)
            return errno_failure(errno, join_components(names, i + 1));
        UniqueFd next = open_beneath(out.get(), names[i], O_PATH | O_DIRECTORY);
        if (!next) return errno_failure(errno, join_components(names, i + 1));
        out = std::move(next);
    }
    return std::nullopt;
}

// A temporary file that is removed unless it was renamed into place.
class TemporaryName {
public:
    TemporaryName(int dir, std::string name) : dir_(dir), name_(std::move(name)) {}
    TemporaryName(const TemporaryName&) = delete;
    TemporaryName& operator=(const TemporaryName&) = delete;
    ~TemporaryName() {
        if (!kept_) ::unlinkat(dir_, name_.c_str(), 0);
    }
    const char* c_str() const { return name_.c_str(); }
    void keep() { kept_ = true; }

private:
    int dir_;
    std::string name_;
    bool kept_ = false;
};

// Writes data to a new file in dir, then renames it to name: a reader never sees half a file.
std::optional<FileError> replace_file(int dir, const std::string& name, std::string_view data,
                                      bool overwrite, const std::string& path) {
    // A fixed-length name: it fits even when name is at the length limit.
    TemporaryName temp(dir, ".ci-upload-" + crypto::random_hex(8));
    UniqueFd file(::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0644));
    if (!file) return errno_failure(errno, path);
    if (::fchmod(file.get(), 0644) != 0) return errno_failure(errno, path);  // whatever the umask
    while (!data.empty()) {
        const ssize_t n = ::write(file.get(), data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_failure(errno, path);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    if (int err = file.close()) return errno_failure(err, path);
    const int rc = overwrite ? ::renameat(dir, temp.c_str(), dir, name.c_str())
                             : ::renameat2(dir, temp.c_str(), dir, name.c_str(), RENAME_NOREPLACE);
    if (rc != 0) return errno_failure(errno, path);
    temp.keep();
    return std::nullopt;
}

struct DirCloser {
    void operator()(DIR* dir) const { ::closedir(dir); }
};

// Up to max names of dir's entries ("." and ".." left out), from the first; 0 or an errno.
int read_names(int dir, std::size_t max, std::vector<std::string>& names) {
    // A new open file description each time: its own offset, starting at the beginning.
    const int fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    std::unique_ptr<DIR, DirCloser> stream(::fdopendir(fd));
    if (!stream) {
        const int err = errno;
        ::close(fd);
        return err;
    }
    while (names.size() < max) {
        errno = 0;
        const dirent* entry = ::readdir(stream.get());
        if (!entry) return errno;
        const std::string_view name = entry->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
    }
    return 0;
}

// Deletes the directory name in parent with everything in it. unlinkat never follows a symbolic
// link, and a directory is entered only through O_NOFOLLOW.
std::optional<FileError> remove_tree(int parent, const std::string& name, const std::string& path,
                                     int depth) {
    if (depth >= kMaxDeleteDepth)
        return FileError{"io", in_quotes(path) + " is nested more than " +
                                   std::to_string(kMaxDeleteDepth) + " levels deep"};
    UniqueFd dir(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return errno_failure(errno, path);
    for (;;) {
        std::vector<std::string> names;
        if (int err = read_names(dir.get(), kDeleteBatch, names)) return errno_failure(err, path);
        if (names.empty()) break;
        for (const std::string& child : names) {
            const std::string child_path = path + "/" + child;
            // Linux refuses to unlink a directory with EISDIR; ENOENT: it went meanwhile.
            if (::unlinkat(dir.get(), child.c_str(), 0) == 0 || errno == ENOENT) continue;
            if (errno != EISDIR) return errno_failure(errno, child_path);
            if (auto error = remove_tree(dir.get(), child, child_path, depth + 1)) return error;
        }
    }
    if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0) return errno_failure(errno, path);
    return std::nullopt;
}

const char* entry_type(mode_t mode) {
    if (S_ISREG(mode)) return "file";
    if (S_ISDIR(mode)) return "directory";
    if (S_ISLNK(mode)) return "symlink";
    return "other";
}

// Appends data to the existing regular file path (never through a link): one chunk of a file
// that is sent in several requests.
json append_file(int workspace, const std::string& path, const WorkspacePath& target,
                 std::string_view data) {
    UniqueFd file = open_beneath(workspace,
                                 join_components(target.components, target.components.size()),
                                 O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY);
    // ENXIO: a FIFO without a reader, which O_NONBLOCK keeps from blocking.
    if (!file && errno == ENXIO)
        return failure({"invalid_path", in_quotes(path) + " is not a regular file"});
    if (!file) return failure(errno_failure(errno, path));
    struct stat st {};
    if (::fstat(file.get(), &st) != 0) return failure(errno_failure(errno, path));
    if (!S_ISREG(st.st_mode))
        return failure({"invalid_path", in_quotes(path) + " is not a regular file"});
    while (!data.empty()) {
        const ssize_t n = ::write(file.get(), data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return failure(errno_failure(errno, path));
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::fstat(file.get(), &st) != 0) return failure(errno_failure(errno, path));
    if (int err = file.close()) return failure(errno_failure(err, path));
    return {{"ok", true}, {"file", {{"path", path}, {"size", static_cast<std::uint64_t>(st.st_size)}}}};
}

json write_file(int workspace, const protocol::FileWriteRequest& request) {
    const std::string& path = request.path;
    const WorkspacePath target = parse_workspace_path(path);
    if (!target.error.empty()) return failure({"invalid_path", target.error});
    if (target.components.empty())
        return failure({"invalid_path", in_quotes(path) + " is the workspace itself, not a file"});
    const std::string& data = request.data;
    if (data.size() > kMaxFileBytes) return failure(too_large(path, data.size(), kMaxFileBytes));
    if (request.append) return append_file(workspace, path, target, data);

    UniqueFd dir;
    if (auto error = open_parent(workspace, target, request.make_parents, dir)) return failure(*error);
    const std::string& name = target.components.back();
    // Checked first so that no data is written for nothing; the rename re-checks atomically.
    struct stat existing {};
    if (::fstatat(dir.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(existing.st_mode)) return failure(errno_failure(EISDIR, path));
        if (!request.overwrite) return failure(errno_failure(EEXIST, path));
    }
    if (auto error = replace_file(dir.get(), name, data, request.overwrite, path)) return failure(*error);
    return {{"ok", true}, {"file", {{"path", path}, {"size", data.size()}}}};
}

// Opens target for reading when it is a regular file (never through a link); st gets its status.
std::optional<FileError> open_regular(int workspace, const std::string& path, const WorkspacePath& target,
                                      UniqueFd& file, struct stat& st) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    file = open_beneath(workspace, join_components(target.components, target.components.size()),
                        O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!file) return errno_failure(errno, path);
    if (::fstat(file.get(), &st) != 0) return errno_failure(errno, path);
    if (S_ISDIR(st.st_mode)) return errno_failure(EISDIR, path);
    if (!S_ISREG(st.st_mode)) return FileError{"invalid_path", in_quotes(path) + " is not a regular file"};
    return std::nullopt;
}

// A part of a file: length bytes (fewer at its end) from offset, and the file's whole size, which
// may be up to max_bytes (any size when absent): a file larger than one answer is read in parts.
json read_file_part(int workspace, const std::string& path, const WorkspacePath& target,
                    std::uint64_t offset, std::uint64_t length, std::optional<std::uint64_t> max_bytes) {
    UniqueFd file;
    struct stat st {};
    if (auto error = open_regular(workspace, path, target, file, st)) return failure(*error);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (max_bytes && size > *max_bytes) return failure(too_large(path, size, *max_bytes));
    const std::uint64_t wanted = offset >= size ? 0 : std::min(length, size - offset);
    std::string data(static_cast<std::size_t>(wanted), '\0');
    std::size_t got = 0;
    while (got < data.size()) {
        const ssize_t n = ::pread(file.get(), data.data() + got, data.size() - got,
                                  static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return failure(errno_failure(errno, path));
        if (n == 0) break;  // it shrank meanwhile
        got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    return {{"ok", true},
            {"file", {{"path", path}, {"size", size}}},
            {"offset", offset},
            {"data_base64", protocol::base64_encode(data)}};
}

json read_file(int workspace, const protocol::FileReadRequest& request) {
    const std::string& path = request.path;
    const std::uint64_t length = request.length.value_or(kMaxFileBytes);
    const std::uint64_t limit = std::min(request.max_bytes.value_or(kMaxFileBytes), kMaxFileBytes);
    if (length > kMaxFileBytes)
        return failure({"invalid_request", "\"length\" is above " + std::to_string(kMaxFileBytes)});
    const WorkspacePath target = parse_workspace_path(path);
    if (!target.error.empty()) return failure({"invalid_path", target.error});
    if (request.partial())
        return read_file_part(workspace, path, target, request.offset.value_or(0), length, request.max_bytes);

    UniqueFd file;
    struct stat st {};
    if (auto error = open_regular(workspace, path, target, file, st)) return failure(*error);
    if (static_cast<std::uint64_t>(st.st_size) > limit)
        return failure(too_large(path, static_cast<std::uint64_t>(st.st_size), limit));

    // The file may grow while it is read: read one byte past the limit to notice.
    std::string data(static_cast<std::size_t>(st.st_size) + 1, '\0');
    std::size_t got = 0;
    for (;;) {
        if (got == data.size()) {
            if (got > limit) return failure(too_large(path, got, limit));
            data.resize(std::min<std::uint64_t>(data.size() * 2, limit + 1));
        }
        const ssize_t n = ::read(file.get(), data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return failure(errno_failure(errno, path));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    return {{"ok", true},
            {"file", {{"path", path}, {"size", data.size()}}},
            {"data_base64", protocol::base64_encode(data)}};
}

json list_directory(int workspace, const protocol::FileListRequest& request) {
    const std::string& path = request.path;
    const WorkspacePath target = parse_workspace_path(path);
    if (!target.error.empty()) return failure({"invalid_path", target.error});

    UniqueFd dir = open_beneath(
        workspace, join_components(target.components, target.components.size()),
        O_PATH | O_DIRECTORY);
    if (!dir) return failure(errno_failure(errno, path));
    std::vector<std::string> names;
    if (int err = read_names(dir.get(), protocol::kMaxListEntries + 1, names))
        return failure(errno_failure(err, path));
    if (names.size() > protocol::kMaxListEntries)
        return failure({"too_large", in_quotes(path) + " has more than " +
                                         std::to_string(protocol::kMaxListEntries) +
                                         " entries, the most file_list returns"});
    std::sort(names.begin(), names.end());
    json entries = json::array();
    for (const std::string& name : names) {
        struct stat st {};
        if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;  // deleted since it was listed
            return failure(errno_failure(errno, join_components(target.components,
                                                                target.components.size()) +
                                                    "/" + name));
        }
        const std::int64_t modified_ms =
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
        const std::uint64_t size = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
        entries.push_back({{"name", name},
                           {"type", entry_type(st.st_mode)},
                           {"size", size},
                           {"modified_unix_ms", modified_ms}});
    }
    return {{"ok", true}, {"path", path}, {"entries", std::move(entries)}};
}

json delete_path(int workspace, const protocol::FileDeleteRequest& request) {
    const std::string& path = request.path;
    const WorkspacePath target = parse_workspace_path(path);
    if (!target.error.empty()) return failure({"invalid_path", target.error});
    if (target.components.empty())
        return failure({"invalid_path", "the workspace itself cannot be deleted"});

    UniqueFd dir;
    if (auto error = open_parent(workspace, target, false, dir)) return failure(*error);
    const std::string& name = target.components.back();
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return failure(errno_failure(errno, path));
    if (S_ISDIR(st.st_mode)) {
        if (!request.recursive)
            return failure({"is_a_directory",
                            in_quotes(path) + " is a directory: set \"recursive\" to delete it"});
        if (auto error = remove_tree(dir.get(), name, path, 0)) return failure(*error);
    } else if (::unlinkat(dir.get(), name.c_str(), 0) != 0) {
        return failure(errno_failure(errno, path));
    }
    return {{"ok", true}};
}

json move_path(int workspace, const protocol::FileMoveRequest& request) {
    const std::string& from = request.from;
    const std::string& to = request.to;
    const WorkspacePath source = parse_workspace_path(from);
    if (!source.error.empty()) return failure({"invalid_path", source.error});
    const WorkspacePath target = parse_workspace_path(to);
    if (!target.error.empty()) return failure({"invalid_path", target.error});
    if (source.components.empty() || target.components.empty())
        return failure({"invalid_path", "the workspace itself cannot be moved or replaced"});

    UniqueFd source_dir;
    if (auto error = open_parent(workspace, source, false, source_dir)) return failure(*error);
    UniqueFd target_dir;
    if (auto error = open_parent(workspace, target, true, target_dir)) return failure(*error);
    const std::string& source_name = source.components.back();
    const std::string& target_name = target.components.back();
    struct stat st {};
    if (::fstatat(target_dir.get(), target_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode))
        return failure(errno_failure(EISDIR, to));
    // renameat never follows a link: a link at either end is moved or replaced itself.
    const int rc = ::renameat2(source_dir.get(), source_name.c_str(), target_dir.get(),
                               target_name.c_str(), request.overwrite ? 0 : RENAME_NOREPLACE);
    if (rc != 0) return failure(errno_failure(errno, errno == ENOENT ? from : to));
    return {{"ok", true}};
}

}  // namespace

json handle_file_request(int workspace, const protocol::Request& request) {
    return std::visit(
        [&](const auto& r) -> json {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, protocol::FileWriteRequest>) return write_file(workspace, r);
            else if constexpr (std::is_same_v<T, protocol::FileReadRequest>) return read_file(workspace, r);
            else if constexpr (std::is_same_v<T, protocol::FileListRequest>) return list_directory(workspace, r);
            else if constexpr (std::is_same_v<T, protocol::FileDeleteRequest>) return delete_path(workspace, r);
            else if constexpr (std::is_same_v<T, protocol::FileMoveRequest>) return move_path(workspace, r);
            else return file_failure("invalid_request", "\"" + std::string(protocol::op_name(request)) +
                                                            "\" is not a file operation");
        },
        request);
}

json file_failure(std::string_view kind, const std::string& message) {
    return {{"ok", false}, {"error", message}, {"error_kind", kind}};
}

}  // namespace ci::agent
