#include "backend_config.hpp"

#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>
#include <string_view>

namespace ci::docker {
namespace {

using nlohmann::json;

class TableReader {
public:
    TableReader(const json& table, std::string name) : table_(table), name_(std::move(name)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
        throw std::invalid_argument(name_ + "." + key + ": " + problem);
    }

    const json* find(const std::string& key) const {
        if (!table_.is_object()) return nullptr;
        auto it = table_.find(key);
        return it == table_.end() ? nullptr : &*it;
    }

    void read_string(const std::string& key, std::string& out) const {
        const json* v = find(key);
        if (!v) return;
        if (!v->is_string()) fail(key, "expected a string, got " + std::string(v->type_name()));
        out = v->get<std::string>();
        if (out.empty()) fail(key, "must not be empty");
    }

    template <class Int>
    void read_integer(const std::string& key, Int& out, std::uint64_t min, std::uint64_t max) const {
        const json* v = find(key);
        if (!v) return;
        if (!v->is_number_integer())
            fail(key, "expected an integer, got " + std::string(v->type_name()));
        const bool negative = !v->is_number_unsigned() && v->get<std::int64_t>() < 0;
        const std::uint64_t value = negative ? 0 : v->get<std::uint64_t>();
        if (negative || value < min || value > max)
            fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                          ", got " + v->dump());
        out = static_cast<Int>(value);
    }

private:
    const json& table_;
    std::string name_;
};

const std::set<std::string>& known_keys() {
    static const std::set<std::string> keys = {
        "socket",     "image",     "instance",   "run_dir",    "agent_uid",
        "agent_gid",  "kernel_uid", "kernel_gid", "container_name_prefix", "nofile_limit",
        "path",  // the loader's own key; tolerated in case it is passed through
    };
    return keys;
}

std::string absolute_path(const std::string& value, const std::string& config_dir) {
    std::filesystem::path p(value);
    if (p.is_relative()) p = std::filesystem::path(config_dir.empty() ? "." : config_dir) / p;
    return std::filesystem::absolute(p).lexically_normal().string();
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// first character from `first`, the rest from `rest`, length 1..max_len
template <class First, class Rest>
bool matches(const std::string& s, std::size_t max_len, First first, Rest rest) {
    if (s.empty() || s.size() > max_len || !first(s[0])) return false;
    for (std::size_t i = 1; i < s.size(); ++i)
        if (!rest(s[i])) return false;
    return true;
}

std::string strip_trailing_slashes(std::string s) {
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

}  // namespace

BackendConfig parse_backend_config(const json& config, const std::string& config_dir,
                                   const std::string& table) {
    if (!config.is_null() && !config.is_object())
        throw std::invalid_argument(table + ": expected a table, got " + std::string(config.type_name()));

    TableReader reader(config, table);
    if (config.is_object()) {
        for (const auto& [key, value] : config.items()) {
            if (!known_keys().count(key))
                reader.fail(key, "unknown key (known: socket, image, instance, run_dir, agent_uid, agent_gid, "
                                 "kernel_uid, kernel_gid, container_name_prefix, nofile_limit)");
        }
    }

    BackendConfig c;
    constexpr std::uint64_t kMaxId = std::numeric_limits<std::int32_t>::max();
    reader.read_string("socket", c.socket);
    reader.read_string("image", c.image);
    reader.read_string("instance", c.instance);
    reader.read_string("run_dir", c.run_dir);
    reader.read_integer("agent_uid", c.agent_uid, 1, kMaxId);
    reader.read_integer("agent_gid", c.agent_gid, 1, kMaxId);
    reader.read_integer("kernel_uid", c.kernel_uid, 1, kMaxId);
    reader.read_integer("kernel_gid", c.kernel_gid, 1, kMaxId);
    reader.read_string("container_name_prefix", c.container_name_prefix);
    reader.read_integer("nofile_limit", c.nofile_limit, 64, 1048576);

    c.socket = absolute_path(c.socket, config_dir);
    if (c.socket.size() >= 108)
        reader.fail("socket", "path is " + std::to_string(c.socket.size()) +
                                  " bytes; a unix socket path must be shorter than 108");

    const auto image_char = [](char ch) { return is_alnum(ch) || std::string_view("._:/@+-").find(ch) != std::string_view::npos; };
    if (!matches(c.image, 255, is_alnum, image_char))
        reader.fail("image", "'" + c.image + "' is not a valid image reference");

    const auto instance_char = [](char ch) { return is_lower_alnum(ch) || ch == '-'; };
    if (!matches(c.instance, 24, instance_char, instance_char))
        reader.fail("instance", "'" + c.instance + "' must be 1 to 24 characters of [a-z0-9-]");

    const auto prefix_char = [](char ch) { return is_alnum(ch) || ch == '_' || ch == '.' || ch == '-'; };
    if (!matches(c.container_name_prefix, 64, is_alnum, prefix_char))
        reader.fail("container_name_prefix",
                    "'" + c.container_name_prefix +
                        "' must start with a letter or digit and hold only [A-Za-z0-9_.-] (at most 64)");

    if (c.agent_uid == c.kernel_uid)
        reader.fail("kernel_uid", "must differ from agent_uid (user code must not run as the agent's user)");

    c.run_dir = strip_trailing_slashes(absolute_path(c.run_dir, config_dir));
    // <run_dir>/<instance>/<12 hex>/agent.sock must fit a unix socket address with a margin.
    const std::size_t socket_path_bytes =
        c.run_dir.size() + 1 + c.instance.size() + 1 + 12 + 1 + std::string("agent.sock").size();
    if (socket_path_bytes > kMaxSocketPathBytes)
        reader.fail("run_dir", "'" + c.run_dir + "' is too long: the agent socket path " + c.run_dir + "/" +
                                   c.instance + "/<worker id>/agent.sock would be " +
                                   std::to_string(socket_path_bytes) + " bytes, the limit is " +
                                   std::to_string(kMaxSocketPathBytes));
    if (c.run_dir == "/")
        reader.fail("run_dir", "must not be the root directory");
    return c;
}

}  // namespace ci::docker
