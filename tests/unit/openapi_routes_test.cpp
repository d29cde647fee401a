// docs/openapi.json against the code: the route table, each route's access, and the error reasons
// with the HTTP status api_error.cpp gives them.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "openapi_check.hpp"
#include "api_error.hpp"
#include "routes.hpp"

namespace ci {
namespace {

using nlohmann::json;
namespace oa = test::openapi;

std::string method_name(Pistache::Http::Method method) {
    return Pistache::Http::methodString(method);
}

std::string describe(const std::set<std::pair<std::string, std::string>>& operations) {
    std::string out;
    for (const auto& [path, method] : operations) out += "  " + method + " " + path + "\n";
    return out;
}

std::set<std::pair<std::string, std::string>> route_operations() {
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& route : routes()) out.emplace(std::string(route.path), method_name(route.method));
    return out;
}

// Every reason the code knows, with its status: ErrorReason is an enum class (underlying type int),
// so every int is a value; reason_code answers "internal" for those that name no reason.
std::map<std::string, int> code_reasons() {
    std::map<std::string, int> out;
    for (int i = 0; i < 256; ++i) {
        auto reason = static_cast<ErrorReason>(i);
        std::string code = reason_code(reason);
        if (code == "internal" && reason != ErrorReason::internal) continue;
        out[code] = http_status(reason);
    }
    return out;
}

class OpenApiRoutesTest : public ::testing::Test {
protected:
    json doc = oa::load_document();
};

TEST_F(OpenApiRoutesTest, DocumentIsOpenApi3WithInfoAndPaths) {
    ASSERT_TRUE(doc.is_object());
    EXPECT_EQ(doc.value("openapi", "").rfind("3.0.", 0), 0u) << doc.value("openapi", "");
    EXPECT_TRUE(doc["info"].contains("title"));
    EXPECT_TRUE(doc["info"].contains("version"));
    EXPECT_FALSE(doc["paths"].empty());
}

TEST_F(OpenApiRoutesTest, EveryRouteIsDocumented) {
    auto documented = oa::operations(doc);
    std::set<std::pair<std::string, std::string>> missing;
    for (const auto& op : route_operations())
        if (!documented.count(op)) missing.insert(op);
    EXPECT_TRUE(missing.empty()) << "routes of ci::routes() missing from docs/openapi.json:\n" << describe(missing);
}

TEST_F(OpenApiRoutesTest, EveryDocumentedOperationIsARoute) {
    auto served = route_operations();
    std::set<std::pair<std::string, std::string>> extra;
    for (const auto& op : oa::operations(doc))
        if (!served.count(op)) extra.insert(op);
    EXPECT_TRUE(extra.empty()) << "operations in docs/openapi.json that ci::routes() does not serve:\n" << describe(extra);
}

TEST_F(OpenApiRoutesTest, SecurityMatchesEachRoutesAccess) {
    for (const auto& route : routes()) {
        std::string path(route.path), method = method_name(route.method);
        if (!doc["paths"].contains(path) || !doc["paths"][path].contains(oa::lower(method))) continue;  // reported above
        const json& op = oa::operation(doc, path, method);
        SCOPED_TRACE(method + " " + path);
        json security = op.contains("security") ? op["security"] : doc["security"];
        std::set<std::string> schemes;
        for (const auto& requirement : security)
            for (const auto& [name, scopes] : requirement.items()) schemes.insert(name);
        const json& responses = op["responses"];
        switch (route.access) {
            case Access::open:
                EXPECT_TRUE(security.empty()) << "an open route must say security: []";
                EXPECT_FALSE(responses.contains("401"));
                break;
            case Access::user:
                EXPECT_EQ(schemes, (std::set<std::string>{"userToken", "adminToken"}));
                EXPECT_TRUE(responses.contains("401"));
                EXPECT_FALSE(responses.contains("403")) << "user routes take either token";
                break;
            case Access::admin:
                EXPECT_EQ(schemes, (std::set<std::string>{"adminToken"}));
                EXPECT_TRUE(responses.contains("401"));
                EXPECT_TRUE(responses.contains("403"));
                break;
        }
        for (const auto& name : schemes)
            EXPECT_TRUE(doc["components"]["securitySchemes"].contains(name)) << name;
    }
}

TEST_F(OpenApiRoutesTest, SecuritySchemesAreTheTokenHeader) {
    for (const char* name : {"userToken", "adminToken"}) {
        const json& scheme = doc["components"]["securitySchemes"][name];
        EXPECT_EQ(scheme.value("type", ""), "apiKey") << name;
        EXPECT_EQ(scheme.value("in", ""), "header") << name;
        EXPECT_EQ(scheme.value("name", ""), "X-Auth-Token") << name;
    }
}

TEST_F(OpenApiRoutesTest, ErrorReasonEnumIsExactlyTheCodesReasons) {
    std::set<std::string> documented;
    for (const auto& reason : doc["components"]["schemas"]["ErrorReason"]["enum"]) documented.insert(reason.get<std::string>());
    std::set<std::string> known;
    for (const auto& [code, status] : code_reasons()) known.insert(code);
    EXPECT_EQ(documented, known);
}

// Each documented error answer names reasons of its own status, and its examples fit its error schema.
TEST_F(OpenApiRoutesTest, ErrorExamplesCarryTheStatusTheCodeGivesTheirReason) {
    auto known = code_reasons();
    int checked = 0;
    for (const auto& [path, method] : oa::operations(doc)) {
        for (const auto& [status, response_ref] : oa::operation(doc, path, method)["responses"].items()) {
            const json& response = oa::resolve(doc, response_ref);
            if (status[0] != '4' && status[0] != '5') continue;
            SCOPED_TRACE(method + " " + path + " " + status);
            ASSERT_TRUE(response.contains("content") && response["content"].contains("application/json"));
            const json& media = response["content"]["application/json"];
            const json& schema = oa::resolve(doc, media["schema"]);
            EXPECT_EQ(schema["properties"]["reason"], json({{"$ref", "#/components/schemas/ErrorReason"}}))
                << "an error body's schema has the reason";
            EXPECT_TRUE(schema["required"].is_array() && schema["required"].size() >= 2 &&
                        std::find(schema["required"].begin(), schema["required"].end(), "detail") != schema["required"].end() &&
                        std::find(schema["required"].begin(), schema["required"].end(), "reason") != schema["required"].end());
            ASSERT_TRUE(media.contains("examples")) << "every error status lists its reasons as examples";
            for (const auto& [name, example] : media["examples"].items()) {
                const json& value = oa::resolve(doc, example)["value"];
                std::string reason = value.value("reason", "");
                ASSERT_TRUE(known.count(reason)) << name << ": unknown reason " << reason;
                EXPECT_EQ(std::to_string(known[reason]), status) << "reason " << reason;
                EXPECT_EQ(oa::schema_errors(doc, media["schema"], value), std::vector<std::string>{}) << value.dump();
                ++checked;
            }
            bool pool_exhausted = media["examples"].contains("pool_exhausted");
            EXPECT_EQ(pool_exhausted, response.contains("headers") && response["headers"].contains("Retry-After"))
                << "Retry-After is documented exactly where pool_exhausted is";
        }
    }
    EXPECT_GT(checked, 20);
}

// Every example (requests and answers) fits its schema, so the examples can be trusted.
TEST_F(OpenApiRoutesTest, EveryExampleFitsItsSchema) {
    int checked = 0;
    auto check_media = [&](const json& media, const std::string& where) {
        if (!media.contains("schema")) return;
        if (media.contains("example") && media["example"].is_object()) {
            EXPECT_EQ(oa::schema_errors(doc, media["schema"], media["example"]), std::vector<std::string>{}) << where;
            ++checked;
        }
        if (!media.contains("examples")) return;
        for (const auto& [name, example] : media["examples"].items()) {
            EXPECT_EQ(oa::schema_errors(doc, media["schema"], oa::resolve(doc, example)["value"]), std::vector<std::string>{})
                << where << " example " << name;
            ++checked;
        }
    };
    for (const auto& [path, method] : oa::operations(doc)) {
        const json& op = oa::operation(doc, path, method);
        if (op.contains("requestBody"))
            for (const auto& [type, media] : oa::resolve(doc, op["requestBody"])["content"].items())
                if (type == "application/json") check_media(media, method + " " + path + " request");
        for (const auto& [status, response] : op["responses"].items())
            if (oa::resolve(doc, response).contains("content"))
                for (const auto& [type, media] : oa::resolve(doc, response)["content"].items())
                    if (type == "application/json") check_media(media, method + " " + path + " " + status);
    }
    EXPECT_GT(checked, 30);
}

TEST_F(OpenApiRoutesTest, OperationIdsAreUniqueAndEveryOperationHasASuccess) {
    std::set<std::string> ids;
    for (const auto& [path, method] : oa::operations(doc)) {
        const json& op = oa::operation(doc, path, method);
        SCOPED_TRACE(method + " " + path);
        std::string id = op.value("operationId", "");
        EXPECT_FALSE(id.empty());
        EXPECT_TRUE(ids.insert(id).second) << "duplicate operationId " << id;
        bool success = false;
        for (const auto& [status, response] : op["responses"].items()) success = success || status[0] == '2';
        EXPECT_TRUE(success);
        EXPECT_FALSE(op.value("summary", "").empty());
    }
}

// A dangling $ref would make the document unusable for generators.
TEST_F(OpenApiRoutesTest, EveryRefResolves) {
    int refs = 0;
    std::function<void(const json&)> walk = [&](const json& node) {
        if (node.is_object()) {
            if (auto r = node.find("$ref"); r != node.end()) {
                ++refs;
                std::string ref = r->get<std::string>();
                ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
                EXPECT_TRUE(doc.contains(json::json_pointer(ref.substr(1)))) << "dangling " << ref;
            }
            for (const auto& [key, child] : node.items()) walk(child);
        } else if (node.is_array()) {
            for (const auto& child : node) walk(child);
        }
    };
    walk(doc);
    EXPECT_GT(refs, 10);
}

// The schema check itself, so a test that passes does so because the answer fits.
TEST(OpenApiSchemaCheckTest, RejectsWhatDoesNotFit) {
    const json doc = json::parse(R"({"components": {"schemas": {"Thing": {
        "type": "object", "required": ["name"], "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z]+$"},
            "kind": {"type": "string", "nullable": true, "enum": ["a", "b", null]},
            "items": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}}}}})");
    const json schema = {{"$ref", "#/components/schemas/Thing"}};
    auto errors = [&](const char* value) { return oa::schema_errors(doc, schema, json::parse(value)); };
    EXPECT_EQ(errors(R"({"name": "ok", "kind": null, "items": [1, 2], "either": "x"})"), std::vector<std::string>{});
    EXPECT_FALSE(errors(R"({"kind": "a"})").empty());                   // required
    EXPECT_FALSE(errors(R"({"name": "OK"})").empty());                  // pattern
    EXPECT_FALSE(errors(R"({"name": "ok", "kind": "c"})").empty());     // enum
    EXPECT_FALSE(errors(R"({"name": "ok", "extra": 1})").empty());      // additionalProperties
    EXPECT_FALSE(errors(R"({"name": "ok", "items": [-1]})").empty());   // minimum
    EXPECT_FALSE(errors(R"({"name": "ok", "items": ["x"]})").empty());  // items' type
    EXPECT_FALSE(errors(R"({"name": "ok", "either": true})").empty());  // oneOf
    EXPECT_FALSE(errors(R"({"name": null})").empty());                  // not nullable
    EXPECT_FALSE(errors("[]").empty());                                 // type
}

}  // namespace
}  // namespace ci
