#include "kube_schema.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

namespace ci::test {
namespace {

using nlohmann::json;

std::filesystem::path schema_path() {
    if (const char* given = std::getenv("CI_KUBE_SCHEMA")) return given;
    return std::filesystem::path(CI_SOURCE_DIR) / ".." / "shared" / "k8s" / "swagger-1.34.json";
}

bool quantity(const std::string& text) {
    static const std::regex pattern(R"([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?)");
    return std::regex_match(text, pattern);
}

std::string type_name(const json& value) {
    if (value.is_object()) return "object";
    if (value.is_array()) return "array";
    if (value.is_string()) return "string";
    if (value.is_boolean()) return "boolean";
    if (value.is_number_integer()) return "integer";
    if (value.is_number()) return "number";
    return "null";
}

}  // namespace

std::string KubeSchema::where_looked() { return schema_path().string(); }

std::optional<KubeSchema> KubeSchema::load() {
    std::ifstream in(schema_path());
    if (!in) return std::nullopt;
    json document = json::parse(in);
    return KubeSchema(std::move(document.at("definitions")));
}

std::string KubeSchema::definition_of(const json& object) const {
    const std::string api_version = object.value("apiVersion", std::string());
    const std::string kind = object.value("kind", std::string());
    const auto slash = api_version.find('/');
    const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    const std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
    for (const auto& [name, definition] : definitions_.items())
        for (const json& gvk : definition.value("x-kubernetes-group-version-kind", json::array()))
            if (gvk.value("group", "") == group && gvk.value("version", "") == version && gvk.value("kind", "") == kind)
                return name;
    return "";
}

std::vector<std::string> KubeSchema::validate(const json& object, const std::string& definition) const {
    std::vector<std::string> problems;
    if (!definitions_.contains(definition)) {
        problems.push_back("no definition '" + definition + "' in the schema");
        return problems;
    }
    check(object, {{"$ref", "#/definitions/" + definition}}, "", problems);
    return problems;
}

void KubeSchema::check(const json& value, const json& schema, const std::string& path,
                       std::vector<std::string>& problems) const {
    const std::string at = path.empty() ? "(object)" : path;
    if (schema.contains("$ref")) {
        const std::string ref = schema["$ref"];
        const std::string name = ref.substr(ref.rfind('/') + 1);
        if (!definitions_.contains(name)) {
            problems.push_back(at + ": unknown reference " + ref);
            return;
        }
        check(value, definitions_[name], path, problems);
        return;
    }
    for (const json& part : schema.value("allOf", json::array())) check(value, part, path, problems);
    const std::string type = schema.value("type", std::string());
    const std::string format = schema.value("format", std::string());
    if (format == "int-or-string") {
        if (!value.is_string() && !value.is_number_integer())
            problems.push_back(at + ": expected an integer or a string, got " + type_name(value));
        return;
    }
    if (type == "object" || (type.empty() && schema.contains("properties"))) {
        if (!value.is_object()) {
            problems.push_back(at + ": expected an object, got " + type_name(value));
            return;
        }
        const json properties = schema.value("properties", json::object());
        for (const json& required : schema.value("required", json::array()))
            if (!value.contains(required.get<std::string>()))
                problems.push_back(at + ": the required field " + required.get<std::string>() + " is missing");
        for (const auto& [key, item] : value.items()) {
            const std::string item_path = path.empty() ? key : path + "." + key;
            if (properties.contains(key))
                check(item, properties[key], item_path, problems);
            else if (schema.contains("additionalProperties"))
                check(item, schema["additionalProperties"], item_path, problems);
            else
                problems.push_back(item_path + ": no such field");
        }
        return;
    }
    if (type == "array") {
        if (!value.is_array()) {
            problems.push_back(at + ": expected an array, got " + type_name(value));
            return;
        }
        for (std::size_t i = 0; i < value.size(); ++i)
            check(value[i], schema.value("items", json::object()), path + "[" + std::to_string(i) + "]", problems);
        return;
    }
    if (type == "string") {
        if (!value.is_string()) {
            problems.push_back(at + ": expected a string, got " + type_name(value));
            return;
        }
        const std::string text = value;
        if (schema.value("description", std::string()).starts_with("Quantity is a fixed-point") && !quantity(text))
            problems.push_back(at + ": '" + text + "' is not a quantity");
        return;
    }
    if (type == "integer") {
        if (!value.is_number_integer()) problems.push_back(at + ": expected an integer, got " + type_name(value));
        else if (format == "int32" && (value.get<std::int64_t>() > 2147483647 || value.get<std::int64_t>() < -2147483648LL))
            problems.push_back(at + ": out of int32 range");
        return;
    }
    if (type == "number") {
        if (!value.is_number()) problems.push_back(at + ": expected a number, got " + type_name(value));
        return;
    }
    if (type == "boolean") {
        if (!value.is_boolean()) problems.push_back(at + ": expected a boolean, got " + type_name(value));
        return;
    }
}

}  // namespace ci::test
