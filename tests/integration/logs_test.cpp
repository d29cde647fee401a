// The real ci-gateway with log_format = "json": every line of its log is one JSON object, and
// neither user code nor a token nor an agent key ever reaches the log.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api_helpers.hpp"
#include "gateway_process.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

constexpr const char* kMarker = "ci-log-marker-5d81c3";

// The agent keys the gateway saved for its ready workers.
std::vector<std::string> agent_keys(const std::string& state_file) {
    std::ifstream in(state_file);
    auto doc = nlohmann::json::parse(in, nullptr, false);
    std::vector<std::string> keys;
    if (doc.is_object() && doc.contains("workers"))
        for (const auto& w : doc["workers"]) keys.push_back(w.value("key", ""));
    return keys;
}

TEST(LogsTest, JsonLogsAreJsonAndCarryNoSecretsOrCode) {
    const std::string instance = instance_name("json-logs");
    GatewayProcess gateway("json-logs", "log_format = \"json\"\n" + gateway_toml(instance, {.min_idle = 1, .max_total = 3}));
    const std::string url = gateway.url("");
    const std::string marker = kMarker;
    const std::string user = user_of(0x3201);

    auto r = execute_as(url, user, "secret = '" + marker + "'\nprint(secret)");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(result_text(r), marker + "\n");
    std::vector<std::string> keys = agent_keys(state_file_of(instance));
    r = execute_as(url, user, "raise RuntimeError('" + marker + "')");
    EXPECT_EQ(r.status, 200) << r.body;
    // A wrong token that carries the marker, and a malformed body around it.
    EXPECT_EQ(http_request("POST", url + "/execute", nlohmann::json{{"user_uuid", user}, {"code", "1"}}.dump(),
                           std::string("wrong-token-") + kMarker)
                  .status,
              401);
    EXPECT_EQ(http_request("POST", url + "/execute", std::string("{\"code\": \"") + kMarker, kUserToken).status, 422);
    // A kernel that dies mid-execution: the session ends, its worker is destroyed and replaced,
    // all of it logged.
    r = execute_as(url, user, "import os\nos._exit(1)  # " + marker);
    EXPECT_TRUE(r.status == 503 || r.status == 504) << r.body;  // kernel_died, or worker_lost

    for (auto& key : agent_keys(state_file_of(instance))) keys.push_back(key);
    EXPECT_FALSE(keys.empty());
    EXPECT_EQ(gateway.terminate(), 0);

    const std::string log = gateway.log();
    EXPECT_EQ(log.find(marker), std::string::npos) << log;
    EXPECT_EQ(log.find(kUserToken), std::string::npos);
    EXPECT_EQ(log.find(kAdminToken), std::string::npos);
    for (const auto& key : keys) EXPECT_EQ(log.find(key), std::string::npos) << "agent key in the log";

    static const std::regex timestamp(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
    static const std::set<std::string> levels = {"debug", "info", "warn", "error"};
    std::istringstream lines(log);
    int count = 0;
    bool saw_session_end = false;
    for (std::string line; std::getline(lines, line);) {
        ++count;
        auto entry = nlohmann::json::parse(line, nullptr, false);
        ASSERT_TRUE(entry.is_object()) << "not a JSON object: " << line;
        ASSERT_TRUE(entry.contains("ts") && entry["ts"].is_string()) << line;
        EXPECT_TRUE(std::regex_match(entry["ts"].get<std::string>(), timestamp)) << line;
        ASSERT_TRUE(entry.contains("level") && entry["level"].is_string()) << line;
        EXPECT_TRUE(levels.count(entry["level"].get<std::string>())) << line;
        ASSERT_TRUE(entry.contains("msg") && entry["msg"].is_string()) << line;
        if (entry["msg"].get<std::string>().find("ended") != std::string::npos) saw_session_end = true;
    }
    // Start, sessions, the dead kernel's worker and the stop were all logged.
    EXPECT_GE(count, 5) << log;
    EXPECT_TRUE(saw_session_end) << log;
    EXPECT_EQ(count_containers(instance), 0);
    EXPECT_EQ(volume_leftovers(instance), "");
    std::filesystem::remove(run_dir_of(instance));  // the backend's per-instance directory, empty by now
}

}  // namespace
}  // namespace ci::test
