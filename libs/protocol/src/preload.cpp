#include "code_interpreter/protocol/preload.hpp"

#include <algorithm>

namespace ci::protocol {
namespace {

bool identifier_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool identifier_char(char c) { return identifier_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

bool is_module_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxModuleNameLength) return false;
    bool at_start = true;
    for (char c : name) {
        if (c == '.') {
            if (at_start) return false;
            at_start = true;
        } else if (at_start ? identifier_start(c) : identifier_char(c)) {
            at_start = false;
        } else {
            return false;
        }
    }
    return !at_start;
}

std::optional<std::vector<std::string>> parse_preload_list(std::string_view list) {
    std::vector<std::string> modules;
    if (list.empty()) return modules;
    for (;;) {
        const std::size_t comma = list.find(',');
        const std::string_view name = list.substr(0, comma);
        if (!is_module_name(name) || std::find(modules.begin(), modules.end(), name) != modules.end() ||
            modules.size() == kMaxPreloadModules)
            return std::nullopt;
        modules.emplace_back(name);
        if (comma == std::string_view::npos) return modules;
        list.remove_prefix(comma + 1);
    }
}

}  // namespace ci::protocol
