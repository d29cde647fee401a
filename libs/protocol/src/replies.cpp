#include "code_interpreter/protocol/replies.hpp"

#include <cstdint>

namespace ci::protocol {
namespace {

using nlohmann::json;
using Defect = std::optional<std::string>;

enum class Type { string, boolean, integer, count, object, array, strings };

bool has_type(const json& value, Type type) {
    switch (type) {
        case Type::string: return value.is_string();
        case Type::boolean: return value.is_boolean();
        case Type::integer: return value.is_number_integer();
        // Parsed text gives non-negative numbers the unsigned type; built values may be signed.
        case Type::count:
            return value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
        case Type::object: return value.is_object();
        case Type::array: return value.is_array();
        case Type::strings:
            if (!value.is_array()) return false;
            for (const auto& item : value)
                if (!item.is_string()) return false;
            return true;
    }
    return false;
}

const char* type_name(Type type) {
    switch (type) {
        case Type::string: return "a string";
        case Type::boolean: return "a boolean";
        case Type::integer: return "an integer";
        case Type::count: return "a non-negative integer";
        case Type::object: return "an object";
        case Type::array: return "an array";
        case Type::strings: return "an array of strings";
    }
    return "";
}

Defect field(const json& object, const char* name, Type type, bool required = true) {
    auto it = object.find(name);
    if (it == object.end())
        return required ? Defect(std::string("missing \"") + name + "\"") : std::nullopt;
    if (!has_type(*it, type)) return std::string("\"") + name + "\" is not " + type_name(type);
    return std::nullopt;
}

// The first defect of a list of checks.
Defect first(std::initializer_list<Defect> checks) {
    for (const auto& defect : checks)
        if (defect) return defect;
    return std::nullopt;
}

Defect file_info_defect(const json& body) {
    if (auto defect = field(body, "file", Type::object)) return defect;
    const json& file = body["file"];
    return first({field(file, "path", Type::string), field(file, "size", Type::count)});
}

Defect entries_defect(const json& body) {
    if (auto defect = first({field(body, "path", Type::string), field(body, "entries", Type::array)})) return defect;
    for (const auto& entry : body["entries"]) {
        if (!entry.is_object()) return std::string("an entry is not an object");
        if (auto defect = first({field(entry, "name", Type::string), field(entry, "type", Type::string),
                                 field(entry, "size", Type::count), field(entry, "modified_unix_ms", Type::integer)}))
            return "an entry: " + *defect;
    }
    return std::nullopt;
}

Defect result_defect(const json& body) {
    if (auto defect = field(body, "result", Type::object)) return defect;
    const json& result = body["result"];
    if (auto defect = first({field(result, "status", Type::string), field(result, "outputs", Type::array),
                             field(result, "execution_count", Type::integer, false),
                             field(result, "truncated", Type::boolean, false),
                             field(result, "duration_ms", Type::count, false)}))
        return "result: " + *defect;
    for (const auto& item : result["outputs"])
        if (auto defect = output_defect(item)) return "an output: " + *defect;
    return std::nullopt;
}

}  // namespace

Defect output_defect(const json& item) {
    if (!item.is_object()) return std::string("not an object");
    if (auto defect = field(item, "type", Type::string)) return defect;
    const auto& type = item["type"].get_ref<const std::string&>();
    if (type == "stream") return first({field(item, "name", Type::string), field(item, "text", Type::string)});
    if (type == "error")
        return first({field(item, "ename", Type::string), field(item, "evalue", Type::string),
                      field(item, "traceback", Type::strings)});
    if (type == "display_data" || type == "execute_result")
        return first({field(item, "data", Type::object), field(item, "metadata", Type::object),
                      field(item, "execution_count", Type::integer, false)});
    return "unknown output type \"" + type + "\"";
}

Defect reply_defect(std::string_view op, const json& body) {
    if (auto defect = field(body, "ok", Type::boolean)) return defect;
    if (!body["ok"].get<bool>())
        return first({field(body, "error", Type::string), field(body, "error_kind", Type::string, false)});
    if (op == "execute") return result_defect(body);
    if (op == "interrupt") return field(body, "interrupted", Type::boolean);
    if (op == "file_write") return file_info_defect(body);
    if (op == "file_read")
        return first({file_info_defect(body), field(body, "data_base64", Type::string),
                      field(body, "offset", Type::count, false)});
    if (op == "file_list") return entries_defect(body);
    return std::nullopt;  // ping, file_delete, file_move: "ok" is the whole answer
}

}  // namespace ci::protocol
