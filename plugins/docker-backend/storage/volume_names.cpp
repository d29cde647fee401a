#include "volume_names.hpp"


namespace ci::loopdisk {
namespace {

constexpr std::string_view kImageSuffix = ".img";
constexpr std::string_view kDeletedSuffix = " (deleted)";

std::optional<std::string> worker_after_prefix(std::string_view instance, std::string_view name) {
    if (name.size() <= instance.size() + 1 || name.substr(0, instance.size()) != instance ||
        name[instance.size()] != '-')
        return std::nullopt;
    std::string_view id = name.substr(instance.size() + 1);
    if (!is_valid_worker_id(id)) return std::nullopt;
    return std::string(id);
}

// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string unescape_octal(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    const auto octal = [](char c) { return c >= '0' && c <= '7'; };
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
            out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
            i += 3;
            continue;
        }
        out.push_back(s[i]);
    }
    return out;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ') ++i;
        if (i > start) fields.push_back(line.substr(start, i - start));
    }
    return fields;
}

}  // namespace

bool is_valid_worker_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

std::string image_file_name(const std::string& instance, const std::string& worker_id) {
    return instance + "-" + worker_id + std::string(kImageSuffix);
}

std::string mount_point_name(const std::string& instance, const std::string& worker_id) {
    return instance + "-" + worker_id;
}

std::optional<std::string> worker_of_image_name(std::string_view instance, std::string_view name) {
    if (name.size() <= kImageSuffix.size() || name.substr(name.size() - kImageSuffix.size()) != kImageSuffix)
        return std::nullopt;
    return worker_after_prefix(instance, name.substr(0, name.size() - kImageSuffix.size()));
}

std::optional<std::string> worker_of_mount_point_name(std::string_view instance, std::string_view name) {
    return worker_after_prefix(instance, name);
}

BackingFile parse_backing_file(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    BackingFile out;
    if (text.size() > kDeletedSuffix.size() && text.substr(text.size() - kDeletedSuffix.size()) == kDeletedSuffix) {
        out.deleted = true;
        text.remove_suffix(kDeletedSuffix.size());
    }
    out.path = std::string(text);
    return out;
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
    // id parent major:minor root mount-point mount-options [optional...] - fstype source super-options
    std::vector<MountEntry> out;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);

        const auto fields = split_spaces(line);
        std::size_t dash = 6;
        while (dash < fields.size() && fields[dash] != "-") ++dash;
        if (fields.size() < 6 || dash + 2 >= fields.size()) continue;  // malformed
        MountEntry e;
        e.mount_point = unescape_octal(fields[4]);
        e.mount_options = std::string(fields[5]);
        e.fs_type = unescape_octal(fields[dash + 1]);
        e.source = unescape_octal(fields[dash + 2]);
        if (dash + 3 < fields.size()) e.super_options = std::string(fields[dash + 3]);
        out.push_back(std::move(e));
    }
    return out;
}

std::pair<std::string_view, std::string_view> split_parent(std::string_view path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) return {std::string_view{}, path};
    return {slash == 0 ? path.substr(0, 1) : path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace ci::loopdisk
