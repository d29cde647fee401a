#pragma once
// Gateway configuration: config.toml, then command-line flags on top.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci {

struct ServerConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 3874;  // 0: pick a free port (tests)
    int threads = 2;
    std::size_t max_body_bytes = 1 << 20;
    std::chrono::milliseconds keepalive_timeout{60'000};
    // From a connection's first byte (or its opening) until its request head is complete.
    std::chrono::milliseconds header_timeout{10'000};
    // Open client connections at once; one more is closed before anything is read from it.
    int max_connections = 512;
    // Event bytes a /api/v1/execute/stream client may leave unread before its stream is ended.
    std::size_t stream_buffer_bytes = 4 << 20;
    // Origins whose pages may call the API (CORS): none by default; "*" allows every origin.
    std::vector<std::string> cors_allowed_origins;
};

struct PoolConfig {
    int min_idle_workers = 5;
    int max_total_workers = 50;
    // How long a new worker may take from create to its agent's first answer.
    std::chrono::milliseconds worker_start_timeout{60'000};
    // How long a new session may wait for a worker when none is idle.
    std::chrono::milliseconds acquire_timeout{30'000};
    int create_concurrency = 2;  // worker creations in flight at once
    // A session unused this long, or this old, is ended and its worker destroyed; 0: never.
    std::chrono::milliseconds session_idle_timeout{3'600'000};
    std::chrono::milliseconds session_max_lifetime{0};
    // Ready workers, their keys and owners, saved so a restarted gateway adopts them; "": no
    // restart recovery (every worker of the instance is removed at start).
    std::string state_file = "var/pool-state.json";
    // On SIGTERM: running executions get drain_timeout to finish; then the workers are destroyed,
    // or kept for the next start to adopt when keep_workers_on_stop.
    std::chrono::milliseconds drain_timeout{30'000};
    bool keep_workers_on_stop = false;
    // The idle target follows demand: at least as many idle workers as the largest crowd of new
    // sessions (started within 10 s of each other) seen within this window, never beyond
    // max_total_workers; 0 keeps it at min_idle_workers.
    std::chrono::milliseconds arrival_window{300'000};
    // Refills (workers made with no session waiting) run at a low CPU priority until leased.
    bool low_priority_refills = true;
};

struct WorkerConfig {
    double cpu = 1.0;
    std::uint64_t ram_mb = 1024;
    std::uint64_t disk_mb = 500;
    std::uint64_t pids_limit = 256;
    std::uint64_t tmp_mb = 64;
    // Imported by every worker's kernel before the worker is ready: a session's first cell does
    // not pay for them (matplotlib.pyplot also gets its inline backend and default font ready).
    std::vector<std::string> preload = {"numpy", "pandas", "matplotlib.pyplot"};
};

enum class TimeoutPolicy { recycle, interrupt };

struct ExecutionConfig {
    std::chrono::milliseconds timeout{120'000};
    // recycle: destroy the worker at the timeout. interrupt: interrupt the kernel and keep the
    // session if it comes back within interrupt_grace; recycle otherwise.
    TimeoutPolicy on_timeout = TimeoutPolicy::recycle;
    std::chrono::milliseconds interrupt_grace{5'000};
    std::uint64_t max_output_bytes = 4 << 20;
    std::size_t max_queued_per_session = 16;
    // Default of a request's store_history: off, API executions skip the kernel's history
    // bookkeeping (faster; execution_count stays, In/Out/_N are not kept; `_` still is).
    bool store_history = false;
    // Executions running at once across all sessions (0: the host's cores + 1); more wait in
    // arrival order. One that runs longer than running_slot_time stops counting, so sleeping or
    // I/O-bound code never holds the others back.
    int max_running = 0;
    std::chrono::milliseconds running_slot_time{100};
};

// The /api/v1/files routes. The agent refuses files above protocol::kMaxFileBytes (32 MiB) in one
// message, so neither of the first two limits may exceed it; transfers by URL move a file in parts.
struct FilesConfig {
    std::uint64_t max_upload_bytes = 32 << 20;
    std::uint64_t max_download_bytes = 32 << 20;
    std::chrono::milliseconds timeout{30'000};  // for the worker's answer to one file operation
    // Transfer by URL (the original's presigned-URL file API).
    std::uint64_t url_max_file_bytes = 100ULL << 20;  // per file, as the original's MAX_FILE_SIZE_MB
    std::chrono::milliseconds url_connect_timeout{10'000};
    std::chrono::milliseconds url_timeout{120'000};  // one file's whole transfer
    int url_transfer_threads = 4;                     // files moving at once, over all requests
    bool url_ssrf_protection = true;                  // false: any address may be reached
    std::vector<std::string> url_allowed_private_hosts;  // "host:port" that may be private
};

// The MCP endpoint /mcp (docs/mcp.md). Its sessions end with the sandbox sessions' idle timeout
// (pool.session_idle_timeout); origins other than loopback need server.cors_allowed_origins.
struct McpConfig {
    bool enabled = true;
    std::size_t max_sessions = 1000;  // MCP sessions open at once; initialize gets an error past it
};

struct PluginEntry {
    std::string name;         // [plugins.<name>]
    std::string path;         // absolute path of the shared library
    nlohmann::json settings;  // the table without "path"
};

struct GatewayConfig {
    std::string config_dir;
    std::string log_level = "info";
    std::string log_format = "text";  // "text" | "json" (one JSON object per line)
    ServerConfig server;
    PoolConfig pool;
    WorkerConfig worker;
    ExecutionConfig execution;
    FilesConfig files;
    McpConfig mcp;
    std::vector<PluginEntry> plugins;
};

// Parses a config.toml text; config_dir resolves relative plugin paths. Throws
// std::invalid_argument with "<key>: <problem>" for anything invalid or unknown.
GatewayConfig parse_config(const std::string& toml_text, const std::string& config_dir);
GatewayConfig load_config_file(const std::string& path);

struct CommandLine {
    std::string config_path = "config.toml";
    std::vector<std::pair<std::string, std::string>> overrides;  // flag name -> value
    bool help = false;
};

// Throws std::invalid_argument for unknown flags or missing values.
CommandLine parse_command_line(int argc, const char* const* argv);
// Applies --min-idle-workers and friends; throws std::invalid_argument for bad values.
void apply_overrides(GatewayConfig& config, const CommandLine& cli);
// Throws std::invalid_argument when settings contradict each other.
void validate(const GatewayConfig& config);

// The longest a request may legitimately take, from its first byte to its answer: a new
// session's wait for a worker, then every execution queued ahead of it in its session and its
// own, each up to its timeout and an interrupt's grace, plus room for admission and stopping.
std::chrono::milliseconds longest_request(const GatewayConfig& config);

std::string usage();

}  // namespace ci
