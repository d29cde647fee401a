#pragma once
// Checks objects against the Kubernetes API's own OpenAPI v2 document (../shared/k8s, test data):
// every field known to its type, each value of the declared type and format (quantities, int32,
// int-or-string), required fields present. Stricter than the API server in one way: a field the
// schema does not know is an error (the server would drop it). The v2 document lists no enum
// values: the tests check those fields themselves.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ci::test {

class KubeSchema {
public:
    // The schema from $CI_KUBE_SCHEMA, else <source dir>/../shared/k8s/swagger-1.34.json; nullopt
    // when neither exists (tests then skip, saying so).
    static std::optional<KubeSchema> load();
    static std::string where_looked();

    // The definition for an object's apiVersion and kind ("" when the schema has none).
    std::string definition_of(const nlohmann::json& object) const;
    // Every problem found, as "<path>: <problem>"; empty when the object is valid.
    std::vector<std::string> validate(const nlohmann::json& object, const std::string& definition) const;
    std::vector<std::string> validate(const nlohmann::json& object) const {
        return validate(object, definition_of(object));
    }

private:
    explicit KubeSchema(nlohmann::json definitions) : definitions_(std::move(definitions)) {}
    void check(const nlohmann::json& value, const nlohmann::json& schema, const std::string& path,
               std::vector<std::string>& problems) const;
    nlohmann::json definitions_;
};

}  // namespace ci::test
