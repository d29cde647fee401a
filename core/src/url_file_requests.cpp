#include "url_file_requests.hpp"

namespace ci {
namespace {

constexpr std::string_view kSandbox = "/sandbox";
constexpr std::size_t kMaxPath = 1024;
constexpr std::size_t kMaxName = 255;

ApiError invalid(std::size_t index, const std::string& what) {
    return ApiError{ErrorReason::validation_failed, "files[" + std::to_string(index) + "]: " + what};
}

// A letter or digit of the original's \w, '_' or '-': any byte of a multi-byte UTF-8 character
// counts (there are no separators or controls among them).
bool word_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-' ||
           c >= 0x80;
}

// word(.word)*: no empty part, so no "..", no leading or trailing dot.
bool valid_segment(std::string_view segment) {
    if (segment.empty()) return false;
    bool after_dot = true;
    for (unsigned char c : segment) {
        if (c == '.') {
            if (after_dot) return false;
            after_dot = true;
        } else if (word_char(c)) {
            after_dot = false;
        } else {
            return false;
        }
    }
    return !after_dot;
}

// The directory segments of a "path" field, or why it is refused.
std::variant<std::vector<std::string>, std::string> path_segments(std::string_view path) {
    if (path.empty()) return std::string("\"path\" must not be empty");
    if (path.size() > kMaxPath) return "\"path\" is longer than " + std::to_string(kMaxPath) + " characters";
    std::string_view rest = path;
    if (rest.front() == '/') {
        if (rest.substr(0, kSandbox.size()) != kSandbox || (rest.size() > kSandbox.size() && rest[kSandbox.size()] != '/'))
            return std::string("\"path\" must be /sandbox or a directory below it (or relative to it)");
        rest.remove_prefix(kSandbox.size());
        if (!rest.empty()) rest.remove_prefix(1);
    }
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    std::vector<std::string> segments;
    while (!rest.empty()) {
        const std::size_t slash = rest.find('/');
        const std::string_view segment = rest.substr(0, slash);
        if (!valid_segment(segment))
            return "\"path\" has the segment \"" + std::string(segment) +
                   "\": segments are letters, digits, '_' and '-' joined by single dots";
        segments.emplace_back(segment);
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    return segments;
}

std::optional<std::string> name_problem(std::string_view name) {
    if (name.empty()) return "\"name\" must not be empty";
    if (name.size() > kMaxName) return "\"name\" is longer than " + std::to_string(kMaxName) + " characters";
    if (name == "." || name == "..") return "\"name\" must name a file, not \"" + std::string(name) + "\"";
    for (unsigned char c : name)
        if (!word_char(c) && c != '.')
            return std::string("\"name\" may hold only letters, digits, '_', '-' and '.' (no path separator)");
    return std::nullopt;
}

const std::string* string_member(const nlohmann::json& item, const char* key) {
    auto it = item.find(key);
    return it != item.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

std::variant<WorkspaceFile, ApiError> workspace_file(std::size_t index, const nlohmann::json& item) {
    const std::string* path = string_member(item, "path");
    const std::string* name = string_member(item, "name");
    if (!path) return invalid(index, "\"path\" is required and must be a string");
    if (!name) return invalid(index, "\"name\" is required and must be a string");
    auto segments = path_segments(*path);
    if (auto* problem = std::get_if<std::string>(&segments)) return invalid(index, *problem);
    if (auto problem = name_problem(*name)) return invalid(index, *problem);
    auto& dirs = std::get<std::vector<std::string>>(segments);
    // The original's leniency: "path": "/sandbox/a.csv", "name": "a.csv" names /sandbox/a.csv.
    if (!dirs.empty() && dirs.back() == *name) dirs.pop_back();
    WorkspaceFile file{*path, *name, "", ""};
    for (const auto& dir : dirs) file.relative += dir + "/";
    file.relative += *name;
    file.absolute = std::string(kSandbox) + "/" + file.relative;
    return file;
}

// The "files" array, checked for its size and item type.
std::variant<const nlohmann::json*, ApiError> files_array(const nlohmann::json& body) {
    auto it = body.find("files");
    if (it == body.end() || !it->is_array())
        return ApiError{ErrorReason::validation_failed, "\"files\" is required and must be an array"};
    if (it->empty() || it->size() > kMaxUrlFiles)
        return ApiError{ErrorReason::validation_failed, "\"files\" must hold 1 to " + std::to_string(kMaxUrlFiles) +
                                                            " files, not " + std::to_string(it->size())};
    for (std::size_t i = 0; i < it->size(); ++i)
        if (!(*it)[i].is_object()) return invalid(i, "each file must be an object");
    return &*it;
}

std::variant<ParsedUrl, ApiError> url_member(std::size_t index, const nlohmann::json& item, const char* key) {
    const std::string* url = string_member(item, key);
    if (!url) return invalid(index, "\"" + std::string(key) + "\" is required and must be a string");
    auto parsed = parse_transfer_url(*url, "\"" + std::string(key) + "\"");
    if (auto* error = std::get_if<ApiError>(&parsed)) return invalid(index, error->message);
    return parsed;
}

}  // namespace

bool is_url_transfer_body(const nlohmann::json& body) { return body.is_object() && body.contains("files"); }

std::variant<std::vector<UrlImport>, ApiError> parse_url_imports(const nlohmann::json& body) {
    auto files = files_array(body);
    if (auto* error = std::get_if<ApiError>(&files)) return *error;
    std::vector<UrlImport> out;
    const auto& items = *std::get<const nlohmann::json*>(files);
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto file = workspace_file(i, items[i]);
        if (auto* error = std::get_if<ApiError>(&file)) return *error;
        auto url = url_member(i, items[i], "download_url");
        if (auto* error = std::get_if<ApiError>(&url)) return *error;
        out.push_back({std::get<WorkspaceFile>(std::move(file)), std::get<ParsedUrl>(std::move(url))});
    }
    return out;
}

std::variant<std::vector<UrlExport>, ApiError> parse_url_exports(const nlohmann::json& body) {
    auto files = files_array(body);
    if (auto* error = std::get_if<ApiError>(&files)) return *error;
    std::vector<UrlExport> out;
    const auto& items = *std::get<const nlohmann::json*>(files);
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto file = workspace_file(i, items[i]);
        if (auto* error = std::get_if<ApiError>(&file)) return *error;
        auto url = url_member(i, items[i], "upload_url");
        if (auto* error = std::get_if<ApiError>(&url)) return *error;
        UrlExport item{std::get<WorkspaceFile>(std::move(file)), std::get<ParsedUrl>(std::move(url)), std::nullopt};
        if (auto fields = items[i].find("upload_fields"); fields != items[i].end() && !fields->is_null()) {
            if (!fields->is_object()) return invalid(i, "\"upload_fields\" must be an object of strings");
            FormFields form;
            for (const auto& [key, value] : fields->items()) {
                if (!value.is_string()) return invalid(i, "\"upload_fields\"." + key + " must be a string");
                if (key == "file") return invalid(i, "\"upload_fields\" must not hold \"file\": that part is the file");
                form.emplace_back(key, value.get<std::string>());
            }
            item.form_fields = std::move(form);
        }
        out.push_back(std::move(item));
    }
    return out;
}

}  // namespace ci
