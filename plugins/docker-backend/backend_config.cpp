#include "backend_config.hpp"

#include "code_interpreter/plugin/settings.hpp"

#include <charconv>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string_view>

namespace ci::docker {
namespace {

using nlohmann::json;

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

const char* network_mode_name(NetworkMode mode) {
    switch (mode) {
        case NetworkMode::none: return "none";
        case NetworkMode::internal: return "internal";
        case NetworkMode::internet: return "internet";
    }
    return "?";
}

std::optional<Ipv4Subnet> parse_ipv4_subnet(std::string_view text) {
    const std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto address = parse_ipv4_address(text.substr(0, slash));
    const std::string_view prefix = text.substr(slash + 1);
    int bits = 0;
    auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
    if (!address || prefix.empty() || ec != std::errc() || end != prefix.data() + prefix.size() ||
        bits < 0 || bits > 32 || (prefix.size() > 1 && prefix.front() == '0'))
        return std::nullopt;
    return Ipv4Subnet{*address, bits};
}

std::optional<std::uint32_t> parse_ipv4_address(std::string_view text) {
    std::uint32_t address = 0;
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (text.empty() || text.front() != '.') return std::nullopt;
            text.remove_prefix(1);
        }
        std::size_t digits = 0;
        unsigned value = 0;
        while (digits < text.size() && digits < 3 && text[digits] >= '0' && text[digits] <= '9')
            value = value * 10 + static_cast<unsigned>(text[digits++] - '0');
        if (digits == 0 || value > 255 || (digits > 1 && text.front() == '0')) return std::nullopt;
        text.remove_prefix(digits);
        address = address << 8 | value;
    }
    if (!text.empty()) return std::nullopt;
    return address;
}

std::string format_ipv4_address(std::uint32_t address) {
    return std::to_string(address >> 24) + "." + std::to_string(address >> 16 & 255) + "." +
           std::to_string(address >> 8 & 255) + "." + std::to_string(address & 255);
}

bool Ipv4Subnet::contains(const Ipv4Subnet& other) const {
    if (other.prefix < prefix) return false;
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (other.address & mask) == (address & mask);
}

std::string Ipv4Subnet::text() const { return format_ipv4_address(address) + "/" + std::to_string(prefix); }

std::string check_worker_subnet(const std::string& subnet) {
    const auto parsed = parse_ipv4_subnet(subnet);
    if (!parsed) return "'" + subnet + "' is not an IPv4 subnet such as 10.213.0.0/24";
    if (parsed->prefix < 16 || parsed->prefix > 28)
        return "'" + subnet + "': the prefix length must be between /16 and /28";
    const std::uint32_t host_mask = ~std::uint32_t{0} >> parsed->prefix;
    if ((parsed->address & host_mask) != 0)
        return "'" + subnet + "' has host bits set (did you mean " +
               Ipv4Subnet{parsed->address & ~host_mask, parsed->prefix}.text() + "?)";
    // The agents' egress rules refuse these ranges, so other workers and the host stay unreachable.
    static const char* const kPrivate[] = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"};
    for (const char* range : kPrivate)
        if (parse_ipv4_subnet(range)->contains(*parsed)) return {};
    return "'" + subnet + "' must lie in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10)";
}

BackendConfig parse_backend_config(const json& config, const std::string& config_dir,
                                   const std::string& table) {
    ci::plugin::Settings reader(config, table);
    BackendConfig c;
    constexpr std::uint32_t kMaxId = std::numeric_limits<std::int32_t>::max();
    c.socket = reader.text("socket", c.socket);
    c.image = reader.text("image", c.image);
    c.instance = reader.text("instance", c.instance);
    c.run_dir = reader.text("run_dir", c.run_dir);
    c.agent_uid = reader.integer<std::uint32_t>("agent_uid", c.agent_uid, 1, kMaxId);
    c.agent_gid = reader.integer<std::uint32_t>("agent_gid", c.agent_gid, 1, kMaxId);
    c.kernel_uid = reader.integer<std::uint32_t>("kernel_uid", c.kernel_uid, 1, kMaxId);
    c.kernel_gid = reader.integer<std::uint32_t>("kernel_gid", c.kernel_gid, 1, kMaxId);
    c.container_name_prefix = reader.text("container_name_prefix", c.container_name_prefix);
    c.nofile_limit = reader.integer<std::uint64_t>("nofile_limit", c.nofile_limit, 64, 1048576);
    c.disk_read_mb_per_s = reader.integer<std::uint64_t>("disk_read_mb_per_s", c.disk_read_mb_per_s, 0, 1048576);
    c.disk_write_mb_per_s = reader.integer<std::uint64_t>("disk_write_mb_per_s", c.disk_write_mb_per_s, 0, 1048576);
    c.disk_read_iops = reader.integer<std::uint64_t>("disk_read_iops", c.disk_read_iops, 0, 16777216);
    c.disk_write_iops = reader.integer<std::uint64_t>("disk_write_iops", c.disk_write_iops, 0, 16777216);
    const std::string network = reader.text("network", "none");
    const bool enable_internet = reader.flag("enable_internet", false);
    c.subnet = reader.text("subnet", c.subnet);
    reader.reject_unknown({"path"});  // the loader's own key, tolerated in case it is passed through

    if (network == "internal")
        c.network = NetworkMode::internal;
    else if (network != "none")
        reader.fail("network", "'" + network + "' is not one of none, internal");
    // enable_internet brings its own network, whatever `network` says (start.sh --enable-internet
    // sets only this key).
    if (enable_internet) c.network = NetworkMode::internet;
    if (const std::string problem = check_worker_subnet(c.subnet); !problem.empty())
        reader.fail("subnet", problem);

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
