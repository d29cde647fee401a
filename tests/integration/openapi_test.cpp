// The served OpenAPI document and the live answers of every operation it describes, against
// docs/openapi.json: each is routed (never the router's "no route" 404 or a 405) and answers a
// status, content type and body the document lists for it.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "openapi_check.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

const char* const kUser = "0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a";

class OpenApiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        doc_ = openapi::load_document();
        gateway_ = std::make_unique<TestGateway>("openapi", TestGatewayOptions{.min_idle = 1, .max_total = 2, .timeout_s = 20});
    }

    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0) << "containers of " << instance << " left behind";
        EXPECT_FALSE(std::filesystem::exists(run_dir_of(instance))) << run_dir_of(instance) << " not cleaned";
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    // The token an operation's security asks for: none when open, the admin token when only it is
    // accepted, else the user token.
    static std::string token_for(const json& op) {
        json security = op.contains("security") ? op["security"] : doc_["security"];
        if (security.empty()) return "";
        for (const auto& requirement : security)
            if (requirement.contains("userToken")) return kUserToken;
        return kAdminToken;
    }

    static HttpResponse send(const std::string& method, const std::string& path, const std::string& body,
                             const std::string& token) {
        return http_request(method, gateway_->url(path), body, token, 60);
    }

    // Expects the answer to be one the document lists for that operation.
    static void expect_documented(const std::string& path, const std::string& method, const HttpResponse& r) {
        auto errors = openapi::response_errors(doc_, path, method, r.status, r.headers.count("content-type") ? r.headers.at("content-type") : "",
                                               r.body);
        EXPECT_TRUE(errors.empty()) << openapi::joined(errors);
    }

    static inline std::unique_ptr<TestGateway> gateway_;
    static inline json doc_;
};

TEST_F(OpenApiTest, ServedDocumentIsDocsOpenapiJsonByteForByte) {
    auto r = send("GET", "/openapi.json", "", "");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(openapi::media_type(r.headers["content-type"]), "application/json");
    EXPECT_EQ(r.body, openapi::read_file(openapi::document_path()))
        << "the gateway serves a different document than docs/openapi.json: rebuild ci_core";
    EXPECT_TRUE(json::parse(r.body, nullptr, false).is_object());
}

// A minimal request with the right token for every documented operation: the router must have a
// route for it, and the answer (often a 400 for the missing fields) must be documented.
TEST_F(OpenApiTest, EveryDocumentedOperationIsRoutedAndAnswersAsDocumented) {
    int checked = 0;
    for (const auto& [path, method] : openapi::operations(doc_)) {
        SCOPED_TRACE(method + " " + path);
        const json& op = openapi::operation(doc_, path, method);
        auto r = send(method, path, method == "POST" ? "{}" : "", token_for(op));
        EXPECT_NE(r.status, 405) << r.body;
        ++checked;
        if (path == "/mcp") {
            // JSON-RPC, not the REST error body: the document describes its refusals in prose
            // (docs/mcp.md; tests/mcp checks them). An empty message is refused as JSON-RPC says.
            EXPECT_EQ(r.status, 400) << r.body;
            EXPECT_EQ(body_of(r).value("jsonrpc", ""), "2.0") << r.body;
            EXPECT_TRUE(body_of(r).contains("error")) << r.body;
            continue;
        }
        if (r.status == 404) {
            EXPECT_EQ(reason_of(r), "not_found");
            EXPECT_EQ(body_of(r).value("detail", "").rfind("no route", 0), std::string::npos) << r.body;
        }
        expect_documented(path, method, r);
    }
    EXPECT_EQ(checked, static_cast<int>(openapi::operations(doc_).size()));
    EXPECT_GE(checked, 12);
}

// Without a token every protected operation answers 401 (documented), with the user token an
// admin operation answers 403 (documented).
TEST_F(OpenApiTest, ProtectedOperationsRefuseAsDocumented) {
    int protected_ops = 0;
    for (const auto& [path, method] : openapi::operations(doc_)) {
        const json& op = openapi::operation(doc_, path, method);
        std::string token = token_for(op);
        if (token.empty()) continue;
        SCOPED_TRACE(method + " " + path);
        ++protected_ops;
        auto none = send(method, path, method == "POST" ? "{}" : "", "");
        EXPECT_EQ(none.status, 401) << none.body;
        expect_documented(path, method, none);
        if (token == kAdminToken) {
            auto user = send(method, path, "", kUserToken);
            EXPECT_EQ(user.status, 403) << user.body;
            expect_documented(path, method, user);
        }
    }
    EXPECT_GT(protected_ops, 5);
}

// The real answers of a session's life fit their schemas: an execution with text, an image and
// an exception; the release; a second release of the same user.
TEST_F(OpenApiTest, SessionAnswersFitTheirSchemas) {
    const std::string code =
        "import base64, IPython.display as d\n"
        "print('out')\n"
        "d.display(d.Image(data=base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=='), format='png'))\n"
        "1/0\n";
    auto r = send("POST", "/api/v1/execute", json{{"user_uuid", kUser}, {"code", code}}.dump(), kUserToken);
    ASSERT_EQ(r.status, 200) << r.body;
    expect_documented("/api/v1/execute", "POST", r);
    auto body = body_of(r);
    EXPECT_EQ(body["new_session"], true);
    EXPECT_TRUE(body["result_base64"].is_string());
    EXPECT_NE(body.value("result_text", json("")).dump().find("ZeroDivisionError"), std::string::npos) << r.body;

    auto seed = send("POST", "/execute", json{{"user_uuid", kUser}, {"code", "print(1)"}}.dump(), kUserToken);
    ASSERT_EQ(seed.status, 200) << seed.body;
    expect_documented("/execute", "POST", seed);
    EXPECT_EQ(body_of(seed)["new_session"], false);

    auto released = send("POST", "/api/v1/release?user_uuid=" + std::string(kUser), "", kUserToken);
    EXPECT_EQ(released.status, 200) << released.body;
    expect_documented("/api/v1/release", "POST", released);
    auto again = send("POST", "/release", json{{"user_uuid", kUser}}.dump(), kUserToken);
    EXPECT_EQ(again.status, 404) << again.body;
    expect_documented("/release", "POST", again);
}

// (event, data) of each Server-Sent Event in a complete event-stream body.
std::vector<std::pair<std::string, std::string>> sse_events(const std::string& body) {
    std::vector<std::pair<std::string, std::string>> events;
    std::string event, data;
    std::size_t start = 0;
    while (start < body.size()) {
        std::size_t end = body.find('\n', start);
        if (end == std::string::npos) end = body.size();
        std::string line = body.substr(start, end - start);
        start = end + 1;
        if (line.empty()) {
            if (!event.empty() || !data.empty()) events.emplace_back(event, data);
            event.clear();
            data.clear();
        } else if (line.rfind("event: ", 0) == 0) {
            event = line.substr(7);
        } else if (line.rfind("data: ", 0) == 0) {
            data += (data.empty() ? "" : "\n") + line.substr(6);
        }
    }
    return events;
}

// The stream's events and the file routes' answers fit their schemas; each event's data fits the
// schema the document's x-events names for it.
TEST_F(OpenApiTest, StreamAndFileAnswersFitTheirSchemas) {
    const std::string user = "0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b";
    const std::string q = "?user_uuid=" + user;

    auto listed = send("GET", "/api/v1/files/list" + q, "", kUserToken);
    ASSERT_EQ(listed.status, 200) << listed.body;
    expect_documented("/api/v1/files/list", "GET", listed);
    EXPECT_EQ(body_of(listed)["new_session"], true) << "a file route starts the session";

    auto uploaded = send("POST", "/api/v1/files" + q + "&path=d/a.txt", "hello", kUserToken);
    EXPECT_EQ(uploaded.status, 200) << uploaded.body;
    expect_documented("/api/v1/files", "POST", uploaded);
    auto refused = send("POST", "/api/v1/files" + q + "&path=d/a.txt&overwrite=false", "again", kUserToken);
    EXPECT_EQ(refused.status, 409) << refused.body;
    expect_documented("/api/v1/files", "POST", refused);
    auto downloaded = send("GET", "/api/v1/files" + q + "&path=d/a.txt", "", kUserToken);
    EXPECT_EQ(downloaded.status, 200);
    EXPECT_EQ(downloaded.body, "hello");
    expect_documented("/api/v1/files", "GET", downloaded);
    auto exported = send("POST", "/api/v1/files/export", json{{"user_uuid", user}, {"path", "d/a.txt"}}.dump(), kUserToken);
    EXPECT_EQ(exported.status, 200) << exported.body;
    expect_documented("/api/v1/files/export", "POST", exported);
    auto missing = send("GET", "/api/v1/files" + q + "&path=d/none", "", kUserToken);
    EXPECT_EQ(missing.status, 404) << missing.body;
    expect_documented("/api/v1/files", "GET", missing);
    auto escaping = send("GET", "/api/v1/files/list" + q + "&path=../x", "", kUserToken);
    EXPECT_EQ(escaping.status, 400) << escaping.body;
    expect_documented("/api/v1/files/list", "GET", escaping);
    auto not_recursive = send("DELETE", "/api/v1/files" + q + "&path=d", "", kUserToken);
    EXPECT_EQ(not_recursive.status / 100, 4) << not_recursive.body;
    expect_documented("/api/v1/files", "DELETE", not_recursive);
    auto deleted = send("DELETE", "/api/v1/files" + q + "&path=d&recursive=true", "", kUserToken);
    EXPECT_EQ(deleted.status, 200) << deleted.body;
    expect_documented("/api/v1/files", "DELETE", deleted);

    auto idle = send("POST", "/api/v1/interrupt", json{{"user_uuid", user}}.dump(), kUserToken);
    EXPECT_EQ(idle.status, 200) << idle.body;
    expect_documented("/api/v1/interrupt", "POST", idle);

    auto streamed = send("POST", "/api/v1/execute/stream",
                         json{{"user_uuid", user}, {"code", "import sys\nprint(1)\nprint(2, file=sys.stderr)\n3\n"}}.dump(),
                         kUserToken);
    ASSERT_EQ(streamed.status, 200) << streamed.body;
    expect_documented("/api/v1/execute/stream", "POST", streamed);
    const json& event_schemas = openapi::operation(doc_, "/api/v1/execute/stream", "POST")["responses"]["200"]["x-events"];
    auto events = sse_events(streamed.body);
    ASSERT_FALSE(events.empty()) << streamed.body;
    std::set<std::string> names;
    for (const auto& [name, data] : events) {
        SCOPED_TRACE("event " + name + ": " + data);
        names.insert(name);
        ASSERT_TRUE(event_schemas.contains(name)) << "an event the document does not list";
        json parsed = json::parse(data, nullptr, false);
        EXPECT_EQ(openapi::schema_errors(doc_, event_schemas[name], parsed), std::vector<std::string>{});
    }
    EXPECT_EQ(events.back().first, "result");
    EXPECT_EQ(names, (std::set<std::string>{"stdout", "stderr", "display", "result"}));

    auto released = send("POST", "/api/v1/release", json{{"user_uuid", user}}.dump(), kUserToken);
    EXPECT_EQ(released.status, 200) << released.body;
}

// What the document's description promises about paths it does not list.
TEST_F(OpenApiTest, UnknownPathsAndMethodsAnswerAsTheDocumentSays) {
    auto unknown = send("GET", "/api/v1/no-such-route", "", kUserToken);
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(reason_of(unknown), "not_found");
    EXPECT_EQ(body_of(unknown).value("detail", "").rfind("no route", 0), 0u) << unknown.body;
    auto wrong = send("GET", "/api/v1/execute", "", kUserToken);
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(reason_of(wrong), "method_not_allowed");
    EXPECT_NE(wrong.headers["allow"].find("POST"), std::string::npos);
    const std::string description = doc_["info"]["description"];
    EXPECT_NE(description.find("no route"), std::string::npos);
    EXPECT_NE(description.find("405"), std::string::npos);
}

}  // namespace
}  // namespace ci::test
