// Every library and program docker/capabilities.txt lists works in a real worker of each image
// profile: its check (a tiny real use, run by docker/capabilities.py) passes inside a session's
// kernel, programs through subprocess, as the sandbox user with no network. A profile whose image
// is not built is skipped.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "shell.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

constexpr const char* kResultPrefix = "@capability ";  // RESULT_PREFIX of capabilities.py

struct Item {
    std::string kind;
    std::string name;
};

std::string read_source(const std::string& relative) {
    std::ifstream in(std::string(CI_SOURCE_DIR) + "/" + relative, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + relative);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// The python-module and command items of the profile (standard: its own; full: all), in order.
std::vector<Item> items_of(const std::string& list, const std::string& profile) {
    std::vector<Item> items;
    std::istringstream lines(list);
    for (std::string line; std::getline(lines, line);) {
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> fields;
        std::size_t start = 0;
        for (int i = 0; i < 4; ++i) {
            const auto bar = line.find('|', start);
            if (bar == std::string::npos) throw std::runtime_error("malformed capabilities.txt line: " + line);
            fields.push_back(trim(line.substr(start, bar - start)));
            start = bar + 1;
        }
        const std::string& kind = fields[0];
        if (kind == "absent" || (fields[3] != "standard" && profile == "standard")) continue;
        items.push_back({kind, fields[1]});
    }
    return items;
}

bool image_exists(const std::string& image) {
    return run_command("docker image inspect " + image + " >/dev/null 2>&1").status == 0;
}

// Runs the checks of one kind in a session of user; returns the results by name, or the failure
// of the call itself as a result named "".
std::map<std::string, json> run_checks(const TestGateway& gateway, const std::string& user, const std::string& list,
                                       const std::string& harness, const std::string& profile, const std::string& kind) {
    // The harness is exec'd under its own module name: its command-line entry point stays unused.
    const std::string code = "namespace = {'__name__': 'capabilities'}\n"
                             "exec(compile(" + json(harness).dump() + ", 'capabilities.py', 'exec'), namespace)\n"
                             "namespace['run'](" + json(list).dump() + ", " + json(profile).dump() +
                             ", kinds=(" + json(kind).dump() + ",))\n";
    const auto response = execute_as(gateway.url(""), user, code, 900);
    const json body = body_of(response);
    std::map<std::string, json> results;
    if (response.status != 200 || !body.is_object() || !body.value("error", json()).is_null()) {
        results[""] = json{{"ok", false}, {"detail", "HTTP " + std::to_string(response.status) + ": " +
                                                         response.body.substr(0, 2000)}};
        return results;
    }
    std::istringstream lines(body.value("stdout", ""));
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(kResultPrefix, 0) != 0) continue;
        json result = json::parse(line.substr(std::string(kResultPrefix).size()));
        results[result["name"].get<std::string>()] = result;
    }
    return results;
}

void check_profile(const std::string& profile, const std::string& image, const std::string& build_command) {
    if (!image_exists(image))
        GTEST_SKIP() << "the " << profile << " worker image " << image << " is not built; build it with `"
                     << build_command << "` and run this test again";
    const std::string list = read_source("docker/capabilities.txt");
    const std::string harness = read_source("docker/capabilities.py");
    const auto items = items_of(list, profile);
    ASSERT_FALSE(items.empty());

    auto gateway = std::make_unique<TestGateway>(
        "caps-" + profile, TestGatewayOptions{.min_idle = 2, .max_total = 2, .timeout_s = 600,
                                              .backend_toml = "image = \"" + image + "\"\n"});
    // Modules in one worker and programs in another: what the modules' checks import (over half a
    // GB in the full image) stays out of LibreOffice's and Chromium's way.
    std::map<std::string, std::map<std::string, json>> results;
    int user = 1;
    for (const std::string kind : {"python-module", "command"}) {
        results[kind] = run_checks(*gateway, user_of(user++), list, harness, profile, kind);
        if (results[kind].count("")) ADD_FAILURE() << kind << " checks did not run: " << results[kind][""]["detail"];
    }

    std::vector<std::string> failing;
    for (const auto& item : items) {
        const auto& of_kind = results[item.kind];
        const auto found = of_kind.find(item.name);
        if (found == of_kind.end()) {
            failing.push_back(item.kind + " " + item.name + " (no result)");
        } else if (!found->second["ok"].get<bool>()) {
            failing.push_back(item.kind + " " + item.name + ": " + found->second["detail"].get<std::string>());
        }
    }
    std::string report;
    for (const auto& line : failing) report += "\n  " + line;
    EXPECT_TRUE(failing.empty()) << failing.size() << " of " << items.size() << " " << profile
                                 << " items failed in " << image << ":" << report;
    const std::string instance = gateway->instance();
    gateway.reset();
    EXPECT_EQ(count_containers(instance), 0);
}

TEST(CapabilitiesTest, StandardImageHasEveryStandardItem) {
    check_profile("standard", "code-interpreter-worker:latest", "docker/build-image.sh");
}

TEST(CapabilitiesTest, FullImageHasEveryItem) {
    check_profile("full", "code-interpreter-worker:full", "docker/build-image.sh --profile full");
}

}  // namespace
}  // namespace ci::test
