// GET /metrics on the real stack: admin only, Prometheus text, counters that follow what happened;
// and the Grafana dashboard of docs/grafana, whose queries must name only what /metrics exposes.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "api_helpers.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// "name{labels}" -> value, from the exposition text; fails the test on any line that is neither
// a HELP/TYPE comment nor a sample.
std::map<std::string, double> parse_metrics(const std::string& text) {
    static const std::regex comment(R"(# (HELP|TYPE) ci_[a-z_]+ .+)");
    static const std::regex sample_line(R"((ci_[a-z_]+(\{[a-z]+="[^"]*"\})?) ([0-9.e+-]+))");
    std::map<std::string, double> samples;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (std::regex_match(line, comment)) continue;
        if (!std::regex_match(line, m, sample_line)) {
            ADD_FAILURE() << "not a Prometheus text line: " << line;
            continue;
        }
        samples[m[1]] = std::stod(m[3]);
    }
    return samples;
}

// The sample's value; a missing series fails the test.
double value(const std::map<std::string, double>& samples, const std::string& key) {
    auto it = samples.find(key);
    if (it == samples.end()) {
        ADD_FAILURE() << "no sample " << key;
        return -1;
    }
    return it->second;
}

std::map<std::string, double> metrics_of(const std::string& url) {
    auto r = http_request("GET", url + "/metrics", "", kAdminToken, 10);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse_metrics(r.body);
}

// ---- The Grafana dashboard (docs/grafana/code-interpreter-dashboard.json, docs/operations.md)

const std::string kDashboard = std::string(CI_SOURCE_DIR) + "/docs/grafana/code-interpreter-dashboard.json";

json read_dashboard() {
    std::ifstream in(kDashboard);
    std::stringstream text;
    text << in.rdbuf();
    json dashboard = json::parse(text.str(), nullptr, false);
    EXPECT_TRUE(dashboard.is_object()) << kDashboard << " is missing or not JSON";
    return dashboard.is_object() ? dashboard : json::object();
}

// Every PromQL expression in the dashboard: the "expr" of panel targets and annotations, the
// "query" and "definition" of template variables, wherever they are nested.
void collect_expressions(const json& node, std::set<std::string>& out) {
    if (node.is_object()) {
        for (const auto& [key, value] : node.items()) {
            if (value.is_string() && (key == "expr" || key == "query" || key == "definition"))
                out.insert(value.get<std::string>());
            else
                collect_expressions(value, out);
        }
    } else if (node.is_array()) {
        for (const auto& item : node) collect_expressions(item, out);
    }
}

// The metric names an expression refers to: every identifier starting with our prefix, once its
// string literals (label values, regular expressions) are taken out.
std::set<std::string> metric_names_in(const std::string& expression) {
    static const std::regex literal(R"("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)");
    static const std::regex name(R"((?:^|[^A-Za-z0-9_:])(ci_[A-Za-z0-9_:]*))");
    const std::string code = std::regex_replace(expression, literal, "\"\"");
    std::set<std::string> names;
    for (std::sregex_iterator it(code.begin(), code.end(), name), end; it != end; ++it) names.insert((*it)[1]);
    return names;
}

// The series names /metrics exposes, from its TYPE lines (a family is listed even before its first
// sample): a counter or gauge by its name, a histogram as its _bucket, _sum and _count series.
// Answers each series' family; types gets each family's type.
std::map<std::string, std::string> exposed_series(const std::string& text, std::map<std::string, std::string>& types) {
    static const std::regex type_line(R"(# TYPE (ci_[a-z_]+) (counter|gauge|histogram|summary|untyped))");
    std::map<std::string, std::string> family_of;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (!std::regex_match(line, m, type_line)) continue;
        types[m[1]] = m[2];
        if (m[2] == "histogram") {
            for (const char* suffix : {"_bucket", "_sum", "_count"}) family_of[m[1].str() + suffix] = m[1];
        } else {
            family_of[m[1]] = m[1];
        }
    }
    return family_of;
}

class MetricsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { gateway_ = new TestGateway("metrics", {.min_idle = 1, .max_total = 3}); }
    static void TearDownTestSuite() {
        delete gateway_;
        gateway_ = nullptr;
    }
    static std::string url() { return gateway_->url(""); }
    static TestGateway* gateway_;
};

TestGateway* MetricsTest::gateway_ = nullptr;

TEST_F(MetricsTest, NeedsTheAdminToken) {
    EXPECT_EQ(http_request("GET", url() + "/metrics").status, 401);
    EXPECT_EQ(http_request("GET", url() + "/metrics", "", kUserToken).status, 403);
    auto r = http_request("GET", url() + "/metrics", "", kAdminToken);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(r.body.back(), '\n');
}

TEST_F(MetricsTest, CountersFollowExecutionsAndCreations) {
    // The warm worker's creation is counted once its kernel answers.
    const std::string created = "ci_worker_creation_duration_seconds_count";
    ASSERT_TRUE(wait_until([&] { return value(metrics_of(url()), created) >= 1; }, 90s));

    const auto before = metrics_of(url());
    const std::string user = user_of(0x3101);
    constexpr int kOk = 3;
    for (int i = 0; i < kOk; ++i) ASSERT_EQ(execute_as(url(), user, "n = " + std::to_string(i)).status, 200);
    auto raised = execute_as(url(), user, "raise ValueError('counted')");
    ASSERT_EQ(raised.status, 200) << raised.body;

    const auto after = metrics_of(url());
    auto grew = [&](const std::string& key) { return value(after, key) - value(before, key); };
    EXPECT_EQ(grew("ci_executions_total{outcome=\"ok\"}"), kOk);
    EXPECT_EQ(grew("ci_executions_total{outcome=\"error\"}"), 1);
    EXPECT_EQ(grew("ci_execution_duration_seconds_count"), kOk + 1);
    EXPECT_GT(grew("ci_execution_duration_seconds_sum"), 0);
    EXPECT_EQ(value(after, "ci_execution_duration_seconds_bucket{le=\"+Inf\"}"),
              value(after, "ci_execution_duration_seconds_count"));
    EXPECT_GE(value(after, "ci_sessions"), 1);
    EXPECT_GE(value(after, "ci_workers{state=\"busy\"}"), 1);
    EXPECT_EQ(value(after, "ci_executions_running"), 0);
    EXPECT_GT(value(after, "ci_uptime_seconds"), 0);
    EXPECT_EQ(value(after, "ci_worker_creation_failures_total{kind=\"other\"}"), 0);
    // The session's worker was replaced in the pool: one more creation.
    EXPECT_TRUE(wait_until([&] { return value(metrics_of(url()), created) >= value(before, created) + 1; }, 90s));

    EXPECT_EQ(http_request("POST", url() + "/release", nlohmann::json{{"user_uuid", user}}.dump(), kUserToken).status,
              200);
}

TEST_F(MetricsTest, ApiErrorsAreCountedByReason) {
    const std::string user = user_of(0x3102);
    auto r = execute_as(url(), user, "import os\nos._exit(3)");
    // kernel_died (503); worker_lost (504) when the inspection finds the worker already stopped.
    ASSERT_TRUE(r.status == 503 || r.status == 504) << r.body;
    const std::string reason = reason_of(r);
    ASSERT_FALSE(reason.empty()) << r.body;
    EXPECT_EQ(value(metrics_of(url()), "ci_executions_total{outcome=\"" + reason + "\"}"), 1);
}

// The scrape configuration of docs/operations.md: Prometheus' `authorization` sends the admin token
// as a bearer token.
TEST_F(MetricsTest, PrometheusScrapesWithTheAdminTokenAsBearer) {
    auto scrape = [&](const std::string& token) {
        return http_send("GET", url() + "/metrics", "", "", {}, 10, {"Authorization: Bearer " + token}).status;
    };
    EXPECT_EQ(scrape(kAdminToken), 200);
    EXPECT_EQ(scrape(kUserToken), 403);
    EXPECT_EQ(scrape("not-a-token-of-this-gateway"), 401);
}

// Every metric a dashboard query names is a series the real gateway exposes: a counter or gauge by
// its name, a histogram only through its _bucket, _sum or _count series. A renamed or removed metric,
// or a typo in the dashboard, fails here instead of showing "No data" in Grafana.
TEST_F(MetricsTest, TheDashboardQueriesOnlySeriesTheGatewayExposes) {
    auto r = http_request("GET", url() + "/metrics", "", kAdminToken, 10);
    ASSERT_EQ(r.status, 200) << r.body;
    std::map<std::string, std::string> types;
    const auto family_of = exposed_series(r.body, types);
    ASSERT_GE(types.size(), 13u) << r.body;

    std::set<std::string> expressions;
    collect_expressions(read_dashboard(), expressions);
    ASSERT_GE(expressions.size(), 20u) << "the dashboard's queries were not found";
    std::set<std::string> referenced;
    for (const auto& expression : expressions) {
        SCOPED_TRACE(expression);
        const auto names = metric_names_in(expression);
        EXPECT_FALSE(names.empty()) << "a query that names none of the gateway's metrics";
        for (const auto& name : names) {
            auto it = family_of.find(name);
            if (it == family_of.end()) {
                auto histogram = types.find(name);
                ADD_FAILURE() << name << " is not a series of GET /metrics"
                              << (histogram != types.end() && histogram->second == "histogram"
                                      ? " (a histogram: query its _bucket, _sum or _count)"
                                      : "");
                continue;
            }
            referenced.insert(it->second);
            // A quantile is estimated from the buckets of one histogram, aggregated by le.
            if (expression.find("histogram_quantile") != std::string::npos) {
                EXPECT_TRUE(name.size() > 7 && name.compare(name.size() - 7, 7, "_bucket") == 0) << name;
                EXPECT_NE(expression.find("by (le)"), std::string::npos);
            }
        }
    }
    // The other way round: each family the gateway exposes has its place on the dashboard.
    for (const auto& [family, type] : types)
        EXPECT_TRUE(referenced.count(family)) << family << " (" << type << ") is on no panel of " << kDashboard;
}

// The check above can fail: names that are not exposed as such are caught.
TEST(GrafanaDashboard, TheMetricNameCheckRefusesWhatIsNotExposed) {
    std::map<std::string, std::string> types;
    const auto family_of = exposed_series(
        "# HELP ci_a_seconds A.\n# TYPE ci_a_seconds histogram\nci_a_seconds_count 0\n"
        "# HELP ci_b_total B.\n# TYPE ci_b_total counter\n# TYPE ci_c gauge\nci_c 1\n",
        types);
    EXPECT_EQ(family_of.size(), 5u);
    auto names = metric_names_in(R"(sum(rate(ci_b_total{x="ci_not_a_metric"}[5m])) / ci_c + ci_a_seconds)");
    EXPECT_EQ(names, (std::set<std::string>{"ci_b_total", "ci_c", "ci_a_seconds"}));
    EXPECT_FALSE(family_of.count("ci_a_seconds")) << "a histogram's own name is no series";
    EXPECT_TRUE(family_of.count("ci_a_seconds_bucket"));
    EXPECT_FALSE(family_of.count("ci_b_total_count"));
    EXPECT_FALSE(family_of.count("ci_b"));
}

// Importable into Grafana 10 and 11 as exported dashboards are: the Prometheus data source is the
// input DS_PROMETHEUS, which every panel, query, variable and annotation uses.
TEST(GrafanaDashboard, IsImportableWithAPrometheusDataSourceInput) {
    const json dashboard = read_dashboard();
    ASSERT_TRUE(dashboard.contains("__inputs") && dashboard["__inputs"].is_array());
    ASSERT_EQ(dashboard["__inputs"].size(), 1u);
    const json& input = dashboard["__inputs"][0];
    EXPECT_EQ(input.value("name", ""), "DS_PROMETHEUS");
    EXPECT_EQ(input.value("type", ""), "datasource");
    EXPECT_EQ(input.value("pluginId", ""), "prometheus");
    EXPECT_TRUE(dashboard.value("uid", "").size() > 0 && dashboard.value("uid", "").size() <= 40);
    EXPECT_GE(dashboard.value("schemaVersion", 0), 36);
    EXPECT_TRUE(dashboard["id"].is_null()) << "an exported dashboard has no id: the importing Grafana gives one";

    int datasources = 0;
    std::function<void(const json&)> check = [&](const json& node) {
        if (node.is_object()) {
            if (node.contains("datasource")) {
                const json& ds = node["datasource"];
                if (ds.value("uid", "") != "-- Grafana --") {  // Grafana's built-in annotations
                    ++datasources;
                    EXPECT_EQ(ds.value("type", ""), "prometheus") << ds.dump();
                    EXPECT_EQ(ds.value("uid", ""), "${DS_PROMETHEUS}") << ds.dump();
                }
            }
            for (const auto& [key, value] : node.items()) check(value);
        } else if (node.is_array()) {
            for (const auto& item : node) check(item);
        }
    };
    check(dashboard);
    EXPECT_GE(datasources, 20);

    std::set<int> ids;
    for (const auto& panel : dashboard["panels"]) {
        SCOPED_TRACE(panel.value("title", ""));
        EXPECT_TRUE(ids.insert(panel.value("id", -1)).second) << "panel ids must be unique";
        const json& pos = panel["gridPos"];
        EXPECT_LE(pos.value("x", 99) + pos.value("w", 99), 24);
        if (panel.value("type", "") != "row") {
            EXPECT_FALSE(panel.value("description", "").empty());
            EXPECT_FALSE(panel["targets"].empty());
        }
    }
    EXPECT_GE(ids.size(), 15u);
}

}  // namespace
}  // namespace ci::test
