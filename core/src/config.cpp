#include "config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include <toml++/toml.h>

#include "code_interpreter/plugin/settings.hpp"
#include "code_interpreter/plugin/isolation_backend.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/preload.hpp"

namespace ci {
namespace {

[[noreturn]] void fail(const std::string& key, const std::string& problem) {
    throw std::invalid_argument(key + ": " + problem);
}

nlohmann::json to_json(const toml::node& node) {
    if (auto* t = node.as_table()) {
        nlohmann::json out = nlohmann::json::object();
        for (auto& [k, v] : *t) out[std::string(k.str())] = to_json(v);
        return out;
    }
    if (auto* a = node.as_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (auto& v : *a) out.push_back(to_json(v));
        return out;
    }
    if (auto v = node.value<std::string>(); node.is_string()) return *v;
    if (node.is_integer()) return *node.value<std::int64_t>();
    if (node.is_floating_point()) return *node.value<double>();
    if (node.is_boolean()) return *node.value<bool>();
    // Dates and times: no plugin setting uses them.
    throw std::invalid_argument("dates and times are not supported in plugin settings");
}

// A section of the document ([server], [pool], ...), or null when the file has none.
const nlohmann::json& section(const nlohmann::json& doc, const char* name) {
    static const nlohmann::json none;
    auto it = doc.find(name);
    return it == doc.end() ? none : *it;
}

std::string resolve_path(const std::string& config_dir, const std::string& path) {
    std::filesystem::path p(path);
    if (p.is_absolute()) return p.lexically_normal().string();
    return (std::filesystem::path(config_dir) / p).lexically_normal().string();
}

template <class T>
T parse_number(const std::string& flag, const std::string& text) {
    std::istringstream in(text);
    T value{};
    in >> value;
    if (!in || !in.eof()) fail(flag, "'" + text + "' is not a valid number");
    // istream reads "-5" into an unsigned type as a huge value instead of failing.
    if (std::is_unsigned_v<T> && text.find('-') != std::string::npos) fail(flag, "must not be negative");
    return value;
}

}  // namespace

GatewayConfig parse_config(const std::string& toml_text, const std::string& config_dir) {
    toml::table root;
    try {
        root = toml::parse(toml_text);
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << "line " << e.source().begin.line << ": " << e.description();
        fail("config.toml", msg.str());
    }

    GatewayConfig c;
    c.config_dir = config_dir;

    const nlohmann::json doc = to_json(root);
    plugin::Settings top(doc, "");
    c.log_level = top.text("log_level", c.log_level);
    c.log_format = top.text("log_format", c.log_format);
    top.reject_unknown({"server", "pool", "worker", "execution", "files", "mcp", "plugins"});

    // Integers are read as non-negative values of their type here; validate() checks the ranges
    // that matter.
    plugin::Settings server(section(doc, "server"), "server");
    c.server.host = server.text("host", c.server.host);
    c.server.port = server.integer("port", c.server.port);
    c.server.threads = server.integer("threads", c.server.threads, 0);
    c.server.max_body_bytes = server.integer("max_body_bytes", c.server.max_body_bytes);
    c.server.keepalive_timeout = server.seconds("keepalive_timeout", c.server.keepalive_timeout);
    c.server.header_timeout = server.seconds("header_timeout", c.server.header_timeout);
    c.server.max_connections = server.integer("max_connections", c.server.max_connections, 16, 1000000);
    c.server.stream_buffer_bytes = server.integer("stream_buffer_bytes", c.server.stream_buffer_bytes);
    c.server.cors_allowed_origins = server.texts("cors_allowed_origins", c.server.cors_allowed_origins);
    server.reject_unknown();

    plugin::Settings pool(section(doc, "pool"), "pool");
    c.pool.min_idle_workers = pool.integer("min_idle_workers", c.pool.min_idle_workers, 0);
    c.pool.max_total_workers = pool.integer("max_total_workers", c.pool.max_total_workers, 0);
    c.pool.worker_start_timeout = pool.seconds("worker_start_timeout", c.pool.worker_start_timeout);
    c.pool.acquire_timeout = pool.seconds("acquire_timeout", c.pool.acquire_timeout);
    c.pool.create_concurrency = pool.integer("create_concurrency", c.pool.create_concurrency, 0);
    c.pool.session_idle_timeout = pool.seconds("session_idle_timeout", c.pool.session_idle_timeout);
    c.pool.session_max_lifetime = pool.seconds("session_max_lifetime", c.pool.session_max_lifetime);
    c.pool.state_file = pool.text("state_file", c.pool.state_file, plugin::Settings::Empty::allowed);
    if (!c.pool.state_file.empty()) c.pool.state_file = resolve_path(config_dir, c.pool.state_file);
    c.pool.drain_timeout = pool.seconds("drain_timeout", c.pool.drain_timeout);
    c.pool.keep_workers_on_stop = pool.flag("keep_workers_on_stop", c.pool.keep_workers_on_stop);
    c.pool.arrival_window = pool.seconds("arrival_window", c.pool.arrival_window);
    c.pool.low_priority_refills = pool.flag("low_priority_refills", c.pool.low_priority_refills);
    pool.reject_unknown();

    plugin::Settings worker(section(doc, "worker"), "worker");
    c.worker.cpu = worker.number("cpu", c.worker.cpu);
    c.worker.ram_mb = worker.integer("ram_mb", c.worker.ram_mb);
    c.worker.disk_mb = worker.integer("disk_mb", c.worker.disk_mb);
    c.worker.pids_limit = worker.integer("pids_limit", c.worker.pids_limit);
    c.worker.tmp_mb = worker.integer("tmp_mb", c.worker.tmp_mb);
    c.worker.preload = worker.texts("preload", c.worker.preload);
    worker.reject_unknown();

    plugin::Settings execution(section(doc, "execution"), "execution");
    c.execution.timeout = execution.seconds("timeout", c.execution.timeout);
    const std::string on_timeout = execution.text("on_timeout", "recycle");
    if (on_timeout == "interrupt")
        c.execution.on_timeout = TimeoutPolicy::interrupt;
    else if (on_timeout != "recycle")
        fail("execution.on_timeout", "must be \"recycle\" or \"interrupt\"");
    c.execution.interrupt_grace = execution.seconds("interrupt_grace", c.execution.interrupt_grace);
    c.execution.max_output_bytes = execution.integer("max_output_bytes", c.execution.max_output_bytes);
    c.execution.max_queued_per_session = execution.integer("max_queued_per_session", c.execution.max_queued_per_session);
    c.execution.store_history = execution.flag("store_history", c.execution.store_history);
    c.execution.max_running = execution.integer("max_running", c.execution.max_running, 0);
    c.execution.running_slot_time = execution.seconds("running_slot_time", c.execution.running_slot_time);
    execution.reject_unknown();

    plugin::Settings files(section(doc, "files"), "files");
    c.files.max_upload_bytes = files.integer("max_upload_bytes", c.files.max_upload_bytes);
    c.files.max_download_bytes = files.integer("max_download_bytes", c.files.max_download_bytes);
    c.files.timeout = files.seconds("timeout", c.files.timeout);
    c.files.url_max_file_bytes = files.integer("url_max_file_bytes", c.files.url_max_file_bytes);
    c.files.url_connect_timeout = files.seconds("url_connect_timeout", c.files.url_connect_timeout);
    c.files.url_timeout = files.seconds("url_timeout", c.files.url_timeout);
    c.files.url_transfer_threads = files.integer("url_transfer_threads", c.files.url_transfer_threads, 0);
    c.files.url_ssrf_protection = files.flag("url_ssrf_protection", c.files.url_ssrf_protection);
    c.files.url_allowed_private_hosts = files.texts("url_allowed_private_hosts", c.files.url_allowed_private_hosts);
    for (auto& host : c.files.url_allowed_private_hosts)
        std::transform(host.begin(), host.end(), host.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    files.reject_unknown();

    plugin::Settings mcp(section(doc, "mcp"), "mcp");
    c.mcp.enabled = mcp.flag("enabled", c.mcp.enabled);
    c.mcp.max_sessions = mcp.integer("max_sessions", c.mcp.max_sessions, std::size_t{1});
    mcp.reject_unknown();

    if (const nlohmann::json& plugins = section(doc, "plugins"); !plugins.is_null()) {
        if (!plugins.is_object()) fail("plugins", "must be a table");
        for (const auto& [name, table] : plugins.items()) {
            if (!table.is_object()) fail("plugins." + name, "must be a table");
            nlohmann::json settings = table;
            if (!settings.contains("path") || !settings["path"].is_string())
                fail("plugins." + name + ".path", "missing: the plugin's shared library");
            PluginEntry entry;
            entry.name = name;
            entry.path = resolve_path(config_dir, settings["path"].get<std::string>());
            settings.erase("path");
            entry.settings = std::move(settings);
            c.plugins.push_back(std::move(entry));
        }
    }
    return c;
}

GatewayConfig load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument("config file '" + path + "' cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    auto dir = std::filesystem::absolute(path).parent_path().string();
    try {
        return parse_config(text.str(), dir);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(path + ": " + e.what());
    }
}

namespace {

using Setter = std::function<void(GatewayConfig&, const std::string& flag, const std::string&)>;

const std::map<std::string, Setter>& flag_setters() {
    static const std::map<std::string, Setter> setters = {
        {"min-idle-workers", [](GatewayConfig& c, const std::string& f, const std::string& v) {
             c.pool.min_idle_workers = parse_number<int>(f, v);
         }},
        {"max-total-workers", [](GatewayConfig& c, const std::string& f, const std::string& v) {
             c.pool.max_total_workers = parse_number<int>(f, v);
         }},
        {"worker-cpu", [](GatewayConfig& c, const std::string& f, const std::string& v) {
             c.worker.cpu = parse_number<double>(f, v);
         }},
        {"worker-ram-mb", [](GatewayConfig& c, const std::string& f, const std::string& v) {
             c.worker.ram_mb = parse_number<std::uint64_t>(f, v);
         }},
        {"worker-disk-mb", [](GatewayConfig& c, const std::string& f, const std::string& v) {
             c.worker.disk_mb = parse_number<std::uint64_t>(f, v);
         }},
        {"port", [](GatewayConfig& c, const std::string& f, const std::string& v) {
             auto port = parse_number<std::uint32_t>(f, v);
             if (port > 65535) fail(f, "must be at most 65535");
             c.server.port = static_cast<std::uint16_t>(port);
         }},
        {"host", [](GatewayConfig& c, const std::string&, const std::string& v) { c.server.host = v; }},
        {"log-level", [](GatewayConfig& c, const std::string&, const std::string& v) { c.log_level = v; }},
        {"log-format", [](GatewayConfig& c, const std::string&, const std::string& v) { c.log_format = v; }},
    };
    return setters;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
    CommandLine cli;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            cli.help = true;
            continue;
        }
        if (arg.rfind("--", 0) != 0) fail(arg, "unexpected argument");
        std::string name = arg.substr(2), value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else {
            if (i + 1 >= argc) fail("--" + name, "needs a value");
            value = argv[++i];
        }
        if (name == "config") {
            cli.config_path = value;
        } else if (flag_setters().count(name) || name == "plugin-setting") {
            cli.overrides.emplace_back(name, value);
        } else {
            fail("--" + name, "unknown flag (see --help)");
        }
    }
    return cli;
}

namespace {

// --plugin-setting NAME.KEY=VALUE: VALUE is read as a TOML value (true, 3, "text"); anything that
// is not one is taken as a plain string.
void apply_plugin_setting(GatewayConfig& config, const std::string& setting) {
    // Messages name the setting without its value: the value may be a secret (a token).
    const std::string flag = "--plugin-setting " + setting.substr(0, setting.find('='));
    auto dot = setting.find('.');
    auto eq = setting.find('=');
    if (dot == std::string::npos || eq == std::string::npos || dot > eq || dot == 0 || eq == dot + 1)
        fail(flag, "expected NAME.KEY=VALUE");
    std::string name = setting.substr(0, dot);
    std::string key = setting.substr(dot + 1, eq - dot - 1);
    std::string text = setting.substr(eq + 1);
    if (key == "path") fail(flag, "the plugin's path cannot be changed from the command line");
    auto entry = std::find_if(config.plugins.begin(), config.plugins.end(),
                              [&](const PluginEntry& e) { return e.name == name; });
    if (entry == config.plugins.end()) fail(flag, "no plugin named '" + name + "' in the configuration");
    nlohmann::json value = text;
    try {
        toml::table parsed = toml::parse("v = " + text);
        value = to_json(*parsed.get("v"));
    } catch (const toml::parse_error&) {
        // not a TOML value: keep the text
    }
    entry->settings[key] = std::move(value);
}

}  // namespace

void apply_overrides(GatewayConfig& config, const CommandLine& cli) {
    for (const auto& [name, value] : cli.overrides) {
        if (name == "plugin-setting")
            apply_plugin_setting(config, value);
        else
            flag_setters().at(name)(config, "--" + name, value);
    }
}

void validate(const GatewayConfig& c) {
    if (c.server.threads < 1) fail("server.threads", "must be at least 1");
    if (c.server.max_body_bytes < 1024 || c.server.max_body_bytes > (8u << 20))
        fail("server.max_body_bytes", "must be between 1024 and 8388608 (code goes to the worker's agent in one "
                                      "message of at most 64 MiB)");
    if (c.server.header_timeout < std::chrono::seconds(1) || c.server.header_timeout > std::chrono::seconds(300))
        fail("server.header_timeout", "must be between 1 and 300 seconds");
    if (c.server.stream_buffer_bytes < (1u << 20)) fail("server.stream_buffer_bytes", "must be at least 1048576 (1 MiB)");
    if (c.pool.max_total_workers < 1) fail("pool.max_total_workers", "must be at least 1");
    if (c.pool.min_idle_workers < 0) fail("pool.min_idle_workers", "must not be negative");
    if (c.pool.min_idle_workers > c.pool.max_total_workers)
        fail("pool.min_idle_workers", "must not exceed pool.max_total_workers (" +
                                          std::to_string(c.pool.max_total_workers) + ")");
    if (c.pool.create_concurrency < 1) fail("pool.create_concurrency", "must be at least 1");
    if (c.pool.worker_start_timeout.count() <= 0) fail("pool.worker_start_timeout", "must be positive");
    if (c.pool.keep_workers_on_stop && c.pool.state_file.empty())
        fail("pool.keep_workers_on_stop", "needs pool.state_file: kept workers are found again through it");
    if (!(c.worker.cpu > 0.0)) fail("worker.cpu", "must be positive");
    if (c.worker.ram_mb < 64) fail("worker.ram_mb", "must be at least 64");
    if (c.worker.disk_mb < 1) fail("worker.disk_mb", "must be at least 1");
    if (c.worker.tmp_mb < 1) fail("worker.tmp_mb", "must be at least 1");
    if (c.worker.pids_limit < 16) fail("worker.pids_limit", "must be at least 16");
    for (const auto& module : c.worker.preload)
        if (!protocol::is_module_name(module))
            fail("worker.preload", "\"" + module + "\" is not a Python module name (dotted identifiers, e.g. \"matplotlib.pyplot\")");
    if (!protocol::parse_preload_list(plugin::preload_argument(c.worker.preload)))
        fail("worker.preload", "must name at most " + std::to_string(protocol::kMaxPreloadModules) +
                                   " modules, each once");
    if (c.execution.timeout.count() <= 0) fail("execution.timeout", "must be positive");
    if (c.execution.max_output_bytes < 1 || c.execution.max_output_bytes > protocol::kMaxOutputBytesCeiling)
        fail("execution.max_output_bytes", "must be between 1 and " + std::to_string(protocol::kMaxOutputBytesCeiling));
    if (c.execution.max_queued_per_session < 1) fail("execution.max_queued_per_session", "must be at least 1");
    const std::string file_limit = "must be between 1 and " + std::to_string(protocol::kMaxFileBytes) +
                                   " (the largest file the worker's agent handles)";
    if (c.files.max_upload_bytes < 1 || c.files.max_upload_bytes > protocol::kMaxFileBytes)
        fail("files.max_upload_bytes", file_limit);
    if (c.files.max_download_bytes < 1 || c.files.max_download_bytes > protocol::kMaxFileBytes)
        fail("files.max_download_bytes", file_limit);
    if (c.files.timeout.count() <= 0) fail("files.timeout", "must be positive");
    if (c.mcp.max_sessions > 100000) fail("mcp.max_sessions", "must be at most 100000");
    if (c.files.url_max_file_bytes < 1) fail("files.url_max_file_bytes", "must be at least 1");
    if (c.files.url_connect_timeout.count() <= 0) fail("files.url_connect_timeout", "must be positive");
    if (c.files.url_timeout.count() <= 0) fail("files.url_timeout", "must be positive");
    if (c.files.url_transfer_threads < 1 || c.files.url_transfer_threads > 64)
        fail("files.url_transfer_threads", "must be between 1 and 64");
    for (const auto& host : c.files.url_allowed_private_hosts) {
        const auto colon = host.rfind(':');
        const bool port_ok = colon != std::string::npos && colon + 1 < host.size() &&
                             host.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
                             host.size() - colon - 1 <= 5 && std::stoul(host.substr(colon + 1)) <= 65535 &&
                             std::stoul(host.substr(colon + 1)) > 0;
        if (colon == 0 || !port_ok)
            fail("files.url_allowed_private_hosts",
                 "\"" + host + "\" must be host:port (an IPv6 address in brackets: [fd00::1]:9000)");
    }
    for (const auto& origin : c.server.cors_allowed_origins) {
        const bool web_origin = (origin.rfind("http://", 0) == 0 || origin.rfind("https://", 0) == 0) &&
                                origin.find('/', origin.find("//") + 2) == std::string::npos;
        if (origin != "*" && !web_origin)
            fail("server.cors_allowed_origins",
                 "\"" + origin + "\" must be \"*\" or an origin such as https://app.example.com (scheme, host, "
                 "optional port, no path)");
    }
    static const std::set<std::string> levels = {"debug", "info", "warn", "error"};
    if (!levels.count(c.log_level)) fail("log_level", "must be debug, info, warn or error");
    if (c.log_format != "text" && c.log_format != "json") fail("log_format", "must be text or json");
}

std::chrono::milliseconds longest_request(const GatewayConfig& c) {
    const auto per_execution = c.execution.timeout + c.execution.interrupt_grace;
    const auto executions = static_cast<std::int64_t>(c.execution.max_queued_per_session) + 1;
    // A transfer by URL of the most files, one after another, each with its worker's answers.
    const auto transfers = (c.files.url_timeout + 2 * c.files.timeout) * 100;
    return c.pool.acquire_timeout + std::max(per_execution * executions, transfers) + c.pool.drain_timeout +
           std::chrono::seconds(60);
}

std::string usage() {
    return "usage: ci-gateway [--config PATH] [--port N] [--host ADDR]\n"
           "                  [--min-idle-workers N] [--max-total-workers N]\n"
           "                  [--worker-cpu CORES] [--worker-ram-mb MB] [--worker-disk-mb MB]\n"
           "                  [--log-level debug|info|warn|error] [--log-format text|json]\n"
           "                  [--plugin-setting NAME.KEY=VALUE]...\n"
           "Flags override the settings of the config file (default: ./config.toml).\n";
}

}  // namespace ci
