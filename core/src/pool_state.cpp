#include "pool_state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "code_interpreter/fd/unique_fd.hpp"
#include "request_fields.hpp"

namespace ci {
namespace {

constexpr int kFormat = 1;

bool is_hex(const std::string& s, std::size_t length) {
    return s.size() == length && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string pool_state_text(const std::vector<SavedWorker>& workers) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& w : workers)
        list.push_back({{"id", w.id}, {"key", w.key}, {"has_volume", w.has_volume}, {"user", w.user},
                        {"session_started_ms", w.session_started_ms}});
    return nlohmann::json{{"format", kFormat}, {"workers", list}}.dump() + "\n";
}

std::vector<SavedWorker> parse_pool_state(const std::string& text) {
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (!doc.is_object() || doc.value("format", 0) != kFormat || !doc.contains("workers") || !doc["workers"].is_array())
        throw std::runtime_error("not a pool state file of format " + std::to_string(kFormat));
    std::vector<SavedWorker> out;
    for (const auto& entry : doc["workers"]) {
        try {
            SavedWorker w{entry.at("id").get<std::string>(), entry.at("key").get<std::string>(),
                          entry.at("has_volume").get<bool>(), entry.at("user").get<std::string>(),
                          entry.at("session_started_ms").get<std::int64_t>()};
            // Ids and keys are what the pool makes (12 and 64 hex digits); users are UUIDs.
            if (!is_hex(w.id, 12) || !is_hex(w.key, 64) || (!w.user.empty() && !is_uuid(w.user)))
                throw std::runtime_error("malformed id, key or user");
            out.push_back(std::move(w));
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("a worker entry is invalid: ") + e.what());
        }
    }
    return out;
}

std::vector<SavedWorker> PoolStateFile::load() const {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec) && !ec) return {};
    std::ifstream in(path_);
    if (!in) throw std::runtime_error("cannot read " + path_ + ": " + std::strerror(errno));
    std::stringstream text;
    text << in.rdbuf();
    try {
        return parse_pool_state(text.str());
    } catch (const std::exception& e) {
        throw std::runtime_error(path_ + ": " + e.what());
    }
}

void PoolStateFile::save(const std::vector<SavedWorker>& workers) const {
    std::filesystem::path path(path_);
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    const std::string temporary = path_ + ".tmp";
    fd::UniqueFd file(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!file) throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(errno));
    const std::string text = pool_state_text(workers);
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(file.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(errno));
        done += static_cast<std::size_t>(n);
    }
    if (int err = file.close()) throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(err));
    // A process crash after rename leaves the whole new file; no fsync: a host crash ends the
    // workers too.
    if (::rename(temporary.c_str(), path_.c_str()) != 0)
        throw std::runtime_error("cannot replace " + path_ + ": " + std::strerror(errno));
}

void PoolStateFile::remove() const {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
}

}  // namespace ci
