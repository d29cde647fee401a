#include "allowlist_config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

namespace ci::example {
namespace {

using nlohmann::json;

const std::set<std::string> kKeys = {"tokens", "tokens_file", "admin_tokens", "admin_tokens_file"};

bool token68_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && std::strchr("-._~+/", c) != nullptr);
}

// Empty when the token is acceptable, else what is wrong with it (without the token itself).
std::string token_problem(const std::string& token) {
    if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength)
        return "must be " + std::to_string(kMinTokenLength) + " to " + std::to_string(kMaxTokenLength) +
               " characters long, has " + std::to_string(token.size());
    const std::size_t body_end = token.find_last_not_of('=') + 1;  // token68: 1*tchar *"="
    if (body_end == 0 || !std::all_of(token.begin(), token.begin() + static_cast<long>(body_end), token68_char))
        return "may hold only A-Z a-z 0-9 - . _ ~ + / (and trailing '=')";
    return {};
}

void add_token(std::vector<std::string>& out, std::string token, const std::string& where) {
    if (std::string problem = token_problem(token); !problem.empty())
        throw std::invalid_argument(where + ": " + problem);
    out.push_back(std::move(token));
}

void read_inline(const json& table, const std::string& key, std::vector<std::string>& out) {
    auto it = table.find(key);
    if (it == table.end()) return;
    if (!it->is_array()) throw std::invalid_argument(key + ": must be an array of strings");
    for (std::size_t i = 0; i < it->size(); ++i) {
        const json& entry = (*it)[i];
        const std::string where = key + "[" + std::to_string(i) + "]";
        if (!entry.is_string()) throw std::invalid_argument(where + ": must be a string");
        add_token(out, entry.get<std::string>(), where);
    }
}

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

void read_file(const plugin::PluginContext& context, const std::string& key, std::vector<std::string>& out) {
    auto it = context.config.find(key);
    if (it == context.config.end()) return;
    if (!it->is_string() || it->get<std::string>().empty())
        throw std::invalid_argument(key + ": must be a non-empty string (a file path)");
    std::filesystem::path path = it->get<std::string>();
    if (path.is_relative()) path = std::filesystem::path(context.config_dir) / path;

    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(key + ": cannot read '" + path.string() + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(key + ": '" + path.string() + "' is not a regular file");
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        throw std::runtime_error(key + ": '" + path.string() + "' is accessible by group or others: chmod 600 it");
    std::ifstream in(path);
    if (!in) throw std::runtime_error(key + ": cannot open '" + path.string() + "'");
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        add_token(out, line, key + " '" + path.string() + "' line " + std::to_string(number));
    }
    if (in.bad()) throw std::runtime_error(key + ": error reading '" + path.string() + "'");
}

}  // namespace

AllowlistConfig parse_allowlist_config(const plugin::PluginContext& context) {
    const json& table = context.config;
    if (!table.is_object()) throw std::invalid_argument("the plugin's table must be a table");
    for (const auto& [key, value] : table.items())
        if (!kKeys.count(key))
            throw std::invalid_argument(key + ": unknown key (known: tokens, tokens_file, admin_tokens, admin_tokens_file)");

    AllowlistConfig config;
    read_inline(table, "tokens", config.user_tokens);
    read_file(context, "tokens_file", config.user_tokens);
    read_inline(table, "admin_tokens", config.admin_tokens);
    read_file(context, "admin_tokens_file", config.admin_tokens);

    if (config.user_tokens.empty())
        throw std::invalid_argument("tokens: no user token configured (set tokens or tokens_file)");
    // A token in both lists would make its role depend on which list is checked first.
    for (const auto& admin : config.admin_tokens)
        if (std::find(config.user_tokens.begin(), config.user_tokens.end(), admin) != config.user_tokens.end())
            throw std::invalid_argument("admin_tokens: a token is also a user token; the lists must not overlap");
    return config;
}

}  // namespace ci::example
