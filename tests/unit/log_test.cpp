#include "log.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "config.hpp"

namespace ci {
namespace {

using namespace std::chrono;
using namespace std::string_literals;

// 2024-05-01T12:34:56.789Z
const system_clock::time_point kAt = sys_days{year{2024} / May / 1} + hours(12) + minutes(34) + seconds(56) +
                                     milliseconds(789);

nlohmann::json json_line(std::string_view message) {
    std::string line = format_log_line(LogFormat::json, kAt, LogLevel::warn, message);
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per event";
    return nlohmann::json::parse(line);  // throws on invalid JSON or invalid UTF-8
}

TEST(Log, JsonLineHasTimestampLevelAndMessage) {
    EXPECT_EQ(format_log_line(LogFormat::json, kAt, LogLevel::info, "worker ab12 ready in 812 ms"),
              R"({"ts":"2024-05-01T12:34:56.789Z","level":"info","msg":"worker ab12 ready in 812 ms"})"
              "\n");
}

TEST(Log, TextLineKeepsItsFormat) {
    EXPECT_EQ(format_log_line(LogFormat::text, kAt, LogLevel::warn, "draining"),
              "2024-05-01T12:34:56.789Z warn  draining\n");
}

TEST(Log, JsonEscapesQuotesBackslashesAndControlCharacters) {
    EXPECT_EQ(json_escape("say \"hi\" \\ now"), R"(say \"hi\" \\ now)");
    EXPECT_EQ(json_escape("a\nb\rc\td"), R"(a\nb\rc\td)");
    EXPECT_EQ(json_escape("nul\0bell\a esc\x1b del\x7f"s), R"(nul\u0000bell\u0007 esc\u001b del\u007f)");
    std::string every_control;
    for (char c = 1; c < 0x20; ++c) every_control += c;
    EXPECT_EQ(json_line("x" + every_control + "\"\\")["msg"], "x" + every_control + "\"\\");
}

TEST(Log, JsonKeepsValidUtf8) {
    const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87";
    EXPECT_EQ(json_escape(text), text);
    EXPECT_EQ(json_line(text)["msg"], text);
}

// n replacement characters (U+FFFD): one per byte that starts no valid sequence.
std::string fffd(int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += "\xEF\xBF\xBD";
    return out;
}

TEST(Log, JsonReplacesInvalidUtf8) {
    const std::pair<std::string, std::string> cases[] = {
        {"a\x80z", "a" + fffd(1) + "z"},              // lone continuation byte
        {"a\xC0\x80z", "a" + fffd(2) + "z"},          // overlong NUL
        {"a\xE0\x80\xAFz", "a" + fffd(3) + "z"},      // overlong '/'
        {"a\xED\xA0\x80z", "a" + fffd(3) + "z"},      // UTF-16 surrogate
        {"a\xF4\x90\x80\x80z", "a" + fffd(4) + "z"},  // above U+10FFFF
        {"a\xF5z", "a" + fffd(1) + "z"},
        {"a\xE2\x82", "a" + fffd(2)},                // cut off at the end
        {"\xFF\xFE", fffd(2)},
    };
    for (const auto& [raw, expected] : cases) {
        EXPECT_EQ(json_escape(raw), expected);
        EXPECT_EQ(json_line(raw)["msg"], expected);
    }
}

TEST(Log, JsonLineIsValidForAnyBytes) {
    std::mt19937 random(42);
    std::uniform_int_distribution<int> byte(0, 255), length(0, 64);
    for (int i = 0; i < 5000; ++i) {
        std::string message(length(random), '\0');
        for (auto& c : message) c = static_cast<char>(byte(random));
        EXPECT_NO_THROW(json_line(message)) << "case " << i;
    }
}

TEST(Log, ParsesFormatNames) {
    EXPECT_EQ(parse_log_format("text"), LogFormat::text);
    EXPECT_EQ(parse_log_format("json"), LogFormat::json);
    EXPECT_THROW(parse_log_format("JSON"), std::invalid_argument);
}

TEST(Log, FormatIsASettingAndAFlag) {
    GatewayConfig c = parse_config("log_format = \"json\"\n", "/etc/ci");
    EXPECT_EQ(c.log_format, "json");
    EXPECT_NO_THROW(validate(c));
    EXPECT_EQ(parse_config("", "/etc/ci").log_format, "text");

    const char* args[] = {"ci-gateway", "--log-format", "text"};
    apply_overrides(c, parse_command_line(3, args));
    EXPECT_EQ(c.log_format, "text");

    c.log_format = "xml";
    EXPECT_THROW(validate(c), std::invalid_argument);
    EXPECT_THROW(parse_config("log_format = 1\n", "/etc/ci"), std::invalid_argument);
}

TEST(Log, PluginSettingErrorsDoNotRepeatTheValue) {
    GatewayConfig c = parse_config("", "/etc/ci");
    const char* args[] = {"ci-gateway", "--plugin-setting", "auth.token=s3cret-value-0123456789"};
    try {
        apply_overrides(c, parse_command_line(3, args));
        FAIL() << "an unknown plugin must be refused";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("auth.token"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ci
