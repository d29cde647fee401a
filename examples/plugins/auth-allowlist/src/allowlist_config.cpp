#include "allowlist_config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace ci::example {
namespace {

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

void add_token(const plugin::Settings& settings, std::vector<std::string>& out, std::string token,
               const std::string& where) {
    if (std::string problem = token_problem(token); !problem.empty()) settings.fail(where, problem);
    out.push_back(std::move(token));
}

void read_inline(plugin::Settings& settings, const std::string& key, std::vector<std::string>& out) {
    const std::vector<std::string> tokens = settings.texts(key, {});
    for (std::size_t i = 0; i < tokens.size(); ++i)
        add_token(settings, out, tokens[i], key + "[" + std::to_string(i) + "]");
}

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

void read_file(plugin::Settings& settings, const std::string& config_dir, const std::string& key,
               std::vector<std::string>& out) {
    if (!settings.has(key)) return;
    const std::filesystem::path path = settings.path(key, "", config_dir);

    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        settings.fail(key, "cannot read '" + path.string() + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) settings.fail(key, "'" + path.string() + "' is not a regular file");
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        settings.fail(key, "'" + path.string() + "' is accessible by group or others: chmod 600 it");
    std::ifstream in(path);
    if (!in) settings.fail(key, "cannot open '" + path.string() + "'");
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        add_token(settings, out, line, key + " '" + path.string() + "' line " + std::to_string(number));
    }
    if (in.bad()) settings.fail(key, "error reading '" + path.string() + "'");
}

}  // namespace

AllowlistConfig parse_allowlist_config(const plugin::PluginContext& context) {
    // The SDK's reader: types checked, every error named plugins.<name>.<key>, unknown keys refused.
    plugin::Settings settings = context.settings();
    AllowlistConfig config;
    read_inline(settings, "tokens", config.user_tokens);
    read_file(settings, context.config_dir, "tokens_file", config.user_tokens);
    read_inline(settings, "admin_tokens", config.admin_tokens);
    read_file(settings, context.config_dir, "admin_tokens_file", config.admin_tokens);
    settings.reject_unknown();

    if (config.user_tokens.empty()) settings.fail("tokens", "no user token configured (set tokens or tokens_file)");
    // A token in both lists would make its role depend on which list is checked first.
    for (const auto& admin : config.admin_tokens)
        if (std::find(config.user_tokens.begin(), config.user_tokens.end(), admin) != config.user_tokens.end())
            settings.fail("admin_tokens", "a token is also a user token; the lists must not overlap");
    return config;
}

}  // namespace ci::example
