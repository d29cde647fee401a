#include "cors.hpp"

#include <algorithm>
#include <cctype>

namespace ci {
namespace {

bool same_text(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

// A list of RFC 9110 tokens separated by commas and spaces: it is echoed into a header.
bool header_list(std::string_view text) {
    if (text.empty() || text.size() > 1024) return false;
    return std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == ',' || c == ' ' || c == '!' || c == '#' || c == '$' ||
               c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' || c == '.' || c == '^' || c == '`' ||
               c == '|' || c == '~';
    });
}

}  // namespace

std::optional<std::string> cors_allow_origin(const std::vector<std::string>& allowed, std::string_view origin) {
    if (origin.empty()) return std::nullopt;
    for (const auto& entry : allowed) {
        if (entry == "*") return std::string("*");
        if (same_text(entry, origin)) return std::string(origin);
    }
    return std::nullopt;
}

std::string cors_allow_headers(std::optional<std::string_view> requested) {
    if (requested && header_list(*requested)) return std::string(*requested);
    return "X-Auth-Token, Authorization, Content-Type";
}

}  // namespace ci
