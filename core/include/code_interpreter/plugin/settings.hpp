#pragma once
// Reading a configuration table, for the gateway's own sections and for plugins alike: each value
// with its type, range and default checked, every error naming the key. A plugin gets its table as
// PluginContext::settings() and writes no parsing code of its own:
//
//   auto s = context.settings();                          // [plugins.<name>]
//   config.image = s.text("image", config.image);
//   config.nofile = s.integer<std::uint32_t>("nofile_limit", 1024, 64, 1048576);
//   config.timeout = s.seconds("timeout", std::chrono::seconds(30));
//   s.reject_unknown();                                   // a misspelt key is an error too
//
// Errors are std::invalid_argument("<table>.<key>: <problem>"), e.g.
// "plugins.docker-backend.nofile_limit: must be between 64 and 1048576, got 10". Header-only: a
// plugin built against the SDK headers alone has it.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::plugin {

class Settings {
public:
    enum class Empty { refused, allowed };

    // table: the table's values (null: an empty table), which must outlive the reader; name: how
    // errors name it ("server", "plugins.docker-backend"; "" for a document's top level).
    Settings(const nlohmann::json& table, std::string name) : table_(table), name_(std::move(name)) {
        if (!table_.is_null() && !table_.is_object())
            throw std::invalid_argument(name_ + ": expected a table, got " + type_of(table_));
    }

    bool has(std::string_view key) const { return find(key) != nullptr; }

    std::string text(std::string_view key, std::string fallback, Empty empty = Empty::refused) {
        const nlohmann::json* value = read(key);
        if (!value) return fallback;
        if (!value->is_string()) fail(key, "expected a string, got " + type_of(*value));
        std::string out = value->get<std::string>();
        if (out.empty() && empty == Empty::refused) fail(key, "must not be empty");
        return out;
    }

    bool flag(std::string_view key, bool fallback) {
        const nlohmann::json* value = read(key);
        if (!value) return fallback;
        if (!value->is_boolean()) fail(key, "expected true or false, got " + type_of(*value));
        return value->get<bool>();
    }

    // An integer within [min, max].
    template <class Int>
    Int integer(std::string_view key, Int fallback, Int min = std::numeric_limits<Int>::min(),
                Int max = std::numeric_limits<Int>::max()) {
        static_assert(std::is_integral_v<Int> && !std::is_same_v<Int, bool>);
        const nlohmann::json* value = read(key);
        if (!value) return fallback;
        if (!value->is_number_integer()) fail(key, "expected an integer, got " + type_of(*value));
        // Compared as wide integers: a parsed non-negative number is unsigned, a negative one signed.
        const bool negative = !value->is_number_unsigned() && value->get<std::int64_t>() < 0;
        const bool in_range =
            negative ? std::is_signed_v<Int> && value->get<std::int64_t>() >= static_cast<std::int64_t>(min)
                     : value->get<std::uint64_t>() <= static_cast<std::uint64_t>(max) &&
                           (min <= 0 || value->get<std::uint64_t>() >= static_cast<std::uint64_t>(min));
        if (!in_range && negative && min == 0 && max == std::numeric_limits<Int>::max()) fail(key, "must not be negative");
        if (!in_range)
            fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                          value->dump());
        return negative ? static_cast<Int>(value->get<std::int64_t>()) : static_cast<Int>(value->get<std::uint64_t>());
    }

    // A number (integer or float) within [min, max].
    double number(std::string_view key, double fallback, double min = -std::numeric_limits<double>::max(),
                  double max = std::numeric_limits<double>::max()) {
        const nlohmann::json* value = read(key);
        if (!value) return fallback;
        if (!value->is_number()) fail(key, "expected a number, got " + type_of(*value));
        const double out = value->get<double>();
        if (!std::isfinite(out) || out < min || out > max)
            fail(key, "must be between " + short_number(min) + " and " + short_number(max) + ", got " + value->dump());
        return out;
    }

    // A duration in seconds (an integer or a float, 0 to a year), kept in milliseconds.
    std::chrono::milliseconds seconds(std::string_view key, std::chrono::milliseconds fallback) {
        const nlohmann::json* value = read(key);
        if (!value) return fallback;
        if (!value->is_number()) fail(key, "expected a number of seconds, got " + type_of(*value));
        const double s = value->get<double>();
        if (!std::isfinite(s)) fail(key, "must be a finite number of seconds");
        if (s < 0) fail(key, "must not be negative");
        // A year is far beyond any sensible limit and far from overflowing the milliseconds.
        if (s > 365.0 * 24 * 3600) fail(key, "is too large (at most a year)");
        return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0));
    }

    // An array of strings.
    std::vector<std::string> texts(std::string_view key, std::vector<std::string> fallback) {
        const nlohmann::json* value = read(key);
        if (!value) return fallback;
        if (!value->is_array()) fail(key, "expected an array of strings, got " + type_of(*value));
        std::vector<std::string> out;
        for (std::size_t i = 0; i < value->size(); ++i) {
            const auto& item = (*value)[i];
            if (!item.is_string())
                fail(std::string(key) + "[" + std::to_string(i) + "]", "expected a string, got " + type_of(item));
            out.push_back(item.get<std::string>());
        }
        return out;
    }

    // A path; a relative one is taken from base_dir (the configuration file's directory).
    std::string path(std::string_view key, std::string fallback, const std::string& base_dir) {
        std::string value = text(key, std::move(fallback));
        std::filesystem::path p(value);
        if (p.is_relative()) p = std::filesystem::path(base_dir.empty() ? "." : base_dir) / p;
        return p.lexically_normal().string();
    }

    // Refuses every key of the table that nothing read (a misspelt setting is an error, not a
    // silent default); except lists keys handled elsewhere.
    void reject_unknown(const std::set<std::string>& except = {}) const {
        if (!table_.is_object()) return;
        for (const auto& [key, value] : table_.items())
            if (!read_.count(key) && !except.count(key)) fail(key, "unknown setting");
    }

    [[noreturn]] void fail(std::string_view key, const std::string& problem) const {
        throw std::invalid_argument((name_.empty() ? "" : name_ + ".") + std::string(key) + ": " + problem);
    }

    const std::string& name() const { return name_; }

private:
    static std::string type_of(const nlohmann::json& value) {
        if (value.is_number_integer()) return "an integer";
        if (value.is_number()) return "a number";
        if (value.is_string()) return "a string";
        if (value.is_boolean()) return "a boolean";
        if (value.is_array()) return "an array";
        if (value.is_object()) return "a table";
        return "null";
    }
    static std::string short_number(double value) {
        std::string text = std::to_string(value);
        text.erase(text.find_last_not_of('0') + 1);
        if (!text.empty() && text.back() == '.') text.pop_back();
        return text;
    }
    const nlohmann::json* find(std::string_view key) const {
        if (!table_.is_object()) return nullptr;
        auto it = table_.find(std::string(key));
        return it == table_.end() ? nullptr : &*it;
    }
    const nlohmann::json* read(std::string_view key) {
        read_.insert(std::string(key));
        return find(key);
    }

    const nlohmann::json& table_;
    std::string name_;
    std::set<std::string> read_;
};

}  // namespace ci::plugin
