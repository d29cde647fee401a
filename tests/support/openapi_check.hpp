#pragma once
// Checks against docs/openapi.json, shared by the unit test (the document against the route table)
// and the integration tests (live answers against the document). Header-only so both test
// binaries use it without a library of their own.
//
// The schema check covers the subset of OpenAPI 3.0 schemas the document uses: $ref (local),
// type, nullable, enum, required, properties, additionalProperties, items, oneOf, anyOf, allOf,
// pattern, minimum, maximum.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::test::openapi {

using nlohmann::json;

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

inline std::string document_path() { return std::string(CI_SOURCE_DIR) + "/docs/openapi.json"; }

inline json load_document() { return json::parse(read_file(document_path())); }

inline const std::vector<std::string>& http_methods() {
    static const std::vector<std::string> methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
    return methods;
}

// Every (path, method) the document describes; method upper-case.
inline std::set<std::pair<std::string, std::string>> operations(const json& doc) {
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& [path, item] : doc.at("paths").items())
        for (const auto& method : http_methods())
            if (item.contains(method)) {
                std::string upper = method;
                for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                out.emplace(path, upper);
            }
    return out;
}

inline std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

inline const json& operation(const json& doc, const std::string& path, const std::string& method) {
    return doc.at("paths").at(path).at(lower(method));
}

// The object a local "$ref" ("#/components/schemas/X") points to.
inline const json& resolve(const json& doc, const json& node) {
    const json* current = &node;
    for (int depth = 0; current->is_object() && current->contains("$ref"); ++depth) {
        if (depth > 32) throw std::runtime_error("$ref loop");
        std::string ref = current->at("$ref").get<std::string>();
        if (ref.rfind("#/", 0) != 0) throw std::runtime_error("not a local $ref: " + ref);
        current = &doc.at(json::json_pointer(ref.substr(1)));
    }
    return *current;
}

// Schema errors of value, one line each ("<where>: <what>"); empty when it conforms.
inline void check_schema(const json& doc, const json& schema_node, const json& value, const std::string& where,
                         std::vector<std::string>& errors) {
    const json& schema = resolve(doc, schema_node);
    auto fail = [&](const std::string& what) { errors.push_back((where.empty() ? "/" : where) + ": " + what); };

    if (value.is_null()) {
        bool null_allowed = schema.value("nullable", false);
        if (auto e = schema.find("enum"); e != schema.end())
            for (const auto& v : *e)
                if (v.is_null()) null_allowed = true;
        if (!null_allowed && schema.contains("type")) fail("null where a " + schema["type"].get<std::string>() + " belongs");
        return;
    }
    for (const char* key : {"allOf"})
        if (auto all = schema.find(key); all != schema.end())
            for (const auto& part : *all) check_schema(doc, part, value, where, errors);
    for (const char* key : {"oneOf", "anyOf"}) {
        auto options = schema.find(key);
        if (options == schema.end()) continue;
        int matching = 0;
        std::vector<std::string> why;
        for (const auto& option : *options) {
            std::vector<std::string> option_errors;
            check_schema(doc, option, value, where, option_errors);
            if (option_errors.empty())
                ++matching;
            else
                why.push_back(option_errors.front());
        }
        if (matching == 0) fail(std::string("matches none of ") + key + " (first: " + (why.empty() ? "" : why.front()) + ")");
        if (std::string(key) == "oneOf" && matching > 1) fail("matches more than one of oneOf");
    }
    if (auto t = schema.find("type"); t != schema.end()) {
        const std::string type = t->get<std::string>();
        bool ok = (type == "object" && value.is_object()) || (type == "array" && value.is_array()) ||
                  (type == "string" && value.is_string()) || (type == "boolean" && value.is_boolean()) ||
                  (type == "integer" && value.is_number_integer()) || (type == "number" && value.is_number());
        if (!ok) {
            fail("expected " + type + ", got " + value.dump());
            return;
        }
    }
    if (auto e = schema.find("enum"); e != schema.end()) {
        bool found = false;
        for (const auto& v : *e) found = found || v == value;
        if (!found) fail(value.dump() + " is not one of " + e->dump());
    }
    if (value.is_string()) {
        if (auto p = schema.find("pattern"); p != schema.end())
            if (!std::regex_search(value.get<std::string>(), std::regex(p->get<std::string>())))
                fail(value.dump() + " does not match " + p->get<std::string>());
    }
    if (value.is_number()) {
        if (auto m = schema.find("minimum"); m != schema.end() && value.get<double>() < m->get<double>())
            fail(value.dump() + " is below the minimum " + m->dump());
        if (auto m = schema.find("maximum"); m != schema.end() && value.get<double>() > m->get<double>())
            fail(value.dump() + " is above the maximum " + m->dump());
    }
    if (value.is_object()) {
        if (auto r = schema.find("required"); r != schema.end())
            for (const auto& name : *r)
                if (!value.contains(name.get<std::string>())) fail("missing required field " + name.get<std::string>());
        const json* properties = schema.contains("properties") ? &schema["properties"] : nullptr;
        for (const auto& [name, field] : value.items()) {
            if (properties && properties->contains(name)) {
                check_schema(doc, (*properties)[name], field, where + "/" + name, errors);
                continue;
            }
            auto extra = schema.find("additionalProperties");
            if (extra == schema.end()) continue;
            if (extra->is_boolean()) {
                if (!extra->get<bool>()) fail("field " + name + " is not in the schema");
            } else {
                check_schema(doc, *extra, field, where + "/" + name, errors);
            }
        }
    }
    if (value.is_array())
        if (auto items = schema.find("items"); items != schema.end())
            for (std::size_t i = 0; i < value.size(); ++i)
                check_schema(doc, *items, value[i], where + "/" + std::to_string(i), errors);
}

inline std::vector<std::string> schema_errors(const json& doc, const json& schema, const json& value) {
    std::vector<std::string> errors;
    check_schema(doc, schema, value, "", errors);
    return errors;
}

// The media type without parameters, lower-case ("application/json; charset=utf-8" -> "application/json").
inline std::string media_type(const std::string& content_type) {
    std::string type = content_type.substr(0, content_type.find(';'));
    type.erase(type.find_last_not_of(" \t") + 1);
    return lower(type);
}

// Why an answer does not conform to the operation's documented responses; empty when it does:
// the status is documented, so is its content type, a JSON body matches the schema, and an
// error's reason is one of the examples documented for that status (each reason the code can
// give is documented as an example of its status).
inline std::vector<std::string> response_errors(const json& doc, const std::string& path, const std::string& method,
                                                long status, const std::string& content_type, const std::string& body) {
    std::vector<std::string> errors;
    const std::string what = method + " " + path + " -> " + std::to_string(status) + ": ";
    const json& responses = operation(doc, path, method).at("responses");
    const json* documented = nullptr;
    if (responses.contains(std::to_string(status)))
        documented = &responses[std::to_string(status)];
    else if (responses.contains("default"))
        documented = &responses["default"];
    if (!documented) {
        errors.push_back(what + "status not documented (body " + body.substr(0, 200) + ")");
        return errors;
    }
    const json& response = resolve(doc, *documented);
    if (!response.contains("content")) {
        if (!body.empty()) errors.push_back(what + "documented without a body, got " + body.substr(0, 200));
        return errors;
    }
    const std::string type = media_type(content_type);
    const json& content = response["content"];
    if (!content.contains(type)) {
        errors.push_back(what + "content type " + content_type + " not documented (" + content.dump().substr(0, 200) + ")");
        return errors;
    }
    if (type != "application/json") return errors;
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) {
        errors.push_back(what + "body is not JSON: " + body.substr(0, 200));
        return errors;
    }
    const json& media = content[type];
    if (media.contains("schema"))
        for (const auto& e : schema_errors(doc, media["schema"], parsed)) errors.push_back(what + e);
    if (status >= 400 && parsed.is_object() && parsed.contains("reason") && media.contains("examples")) {
        bool listed = false;
        for (const auto& [name, example] : media["examples"].items()) {
            const json& value = resolve(doc, example).value("value", json());
            listed = listed || (value.is_object() && value.value("reason", json()) == parsed["reason"]);
        }
        if (!listed) errors.push_back(what + "reason " + parsed["reason"].dump() + " is not among the documented examples");
    }
    return errors;
}

inline std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return out;
}

}  // namespace ci::test::openapi
