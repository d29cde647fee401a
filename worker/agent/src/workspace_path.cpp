#include "code_interpreter/agent/workspace_path.hpp"

#include <climits>

namespace ci::agent {

WorkspacePath parse_workspace_path(std::string_view path) {
    WorkspacePath out;
    if (path.empty()) {
        out.error = "the path is empty (\".\" is the workspace itself)";
        return out;
    }
    if (path.find('\0') != std::string_view::npos) {
        out.error = "the path contains a NUL byte";
        return out;
    }
    if (path.size() >= PATH_MAX) {
        out.error = "the path is longer than " + std::to_string(PATH_MAX - 1) + " bytes";
        return out;
    }
    if (path.front() == '/') {
        out.error =
            "\"" + std::string(path) + "\" is absolute: paths are relative to the workspace";
        return out;
    }
    std::vector<std::string> components;
    while (!path.empty()) {
        const std::size_t slash = path.find('/');
        const std::string_view name = path.substr(0, slash);
        path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
        if (name.empty() || name == ".") continue;
        if (name == "..") {
            out.error = "the path has a \"..\" component";
            return out;
        }
        components.emplace_back(name);
    }
    out.components = std::move(components);
    return out;
}

std::string join_components(const std::vector<std::string>& components, std::size_t count) {
    if (count == 0) return ".";
    std::string out = components[0];
    for (std::size_t i = 1; i < count; ++i) {
        out += '/';
        out += components[i];
    }
    return out;
}

}  // namespace ci::agent
