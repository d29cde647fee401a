#include "backend_settings.hpp"

#include <set>
#include <stdexcept>

#include "code_interpreter/plugin/settings.hpp"

namespace ci::kube {
namespace {

using nlohmann::json;

bool dns_label(const std::string& s) {
    if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

// A label value: at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric.
bool label_value(const std::string& s) {
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
    for (char c : s)
        if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
    return true;
}

json read_node_selector(const json& config, const std::string& table) {
    const std::string key = table + ".node_selector";
    if (!config.is_object() || !config.contains("node_selector")) return json::object();
    const json& value = config["node_selector"];
    if (!value.is_object()) throw std::invalid_argument(key + ": expected a table of label = \"value\"");
    for (const auto& [label, v] : value.items())
        if (!v.is_string() || (!v.get<std::string>().empty() && !label_value(v.get<std::string>())))
            throw std::invalid_argument(key + "." + label + ": expected a label value");
    return value;
}

json read_tolerations(const json& config, const std::string& table) {
    const std::string key = table + ".tolerations";
    if (!config.is_object() || !config.contains("tolerations")) return json::array();
    const json& value = config["tolerations"];
    if (!value.is_array()) throw std::invalid_argument(key + ": expected an array of tables");
    const std::set<std::string> text_fields = {"key", "operator", "value", "effect"};
    for (std::size_t i = 0; i < value.size(); ++i) {
        const json& item = value[i];
        const std::string where = key + "[" + std::to_string(i) + "]";
        if (!item.is_object()) throw std::invalid_argument(where + ": expected a table");
        for (const auto& [field, v] : item.items()) {
            if (text_fields.count(field)) {
                if (!v.is_string()) throw std::invalid_argument(where + "." + field + ": expected a string");
            } else if (field == "tolerationSeconds") {
                if (!v.is_number_integer()) throw std::invalid_argument(where + "." + field + ": expected an integer");
            } else {
                throw std::invalid_argument(where + "." + field +
                                            ": unknown (key, operator, value, effect, tolerationSeconds)");
            }
        }
        const std::string op = item.value("operator", std::string("Equal"));
        if (op != "Equal" && op != "Exists")
            throw std::invalid_argument(where + ".operator: must be Equal or Exists");
        const std::string effect = item.value("effect", std::string());
        if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
            throw std::invalid_argument(where + ".effect: must be NoSchedule, PreferNoSchedule or NoExecute");
    }
    return value;
}

}  // namespace

BackendSettings parse_backend_settings(const plugin::PluginContext& context, const std::string& host_name) {
    BackendSettings out;
    const std::string table = "plugins." + context.name;
    plugin::Settings s = context.settings();
    out.access.api_url = s.text("api_url", "", plugin::Settings::Empty::allowed);
    if (s.has("token_file")) out.access.token_file = s.path("token_file", "", context.config_dir);
    if (s.has("ca_file")) out.access.ca_file = s.path("ca_file", "", context.config_dir);
    out.access.namespace_ = s.text("namespace", "", plugin::Settings::Empty::allowed);
    if (!out.access.namespace_.empty() && !dns_label(out.access.namespace_))
        throw std::invalid_argument(table + ".namespace: not a namespace name: " + out.access.namespace_);
    out.image = s.text("image", out.image);
    out.image_pull_policy = s.text("image_pull_policy", out.image_pull_policy);
    if (out.image_pull_policy != "Always" && out.image_pull_policy != "IfNotPresent" &&
        out.image_pull_policy != "Never")
        throw std::invalid_argument(table + ".image_pull_policy: must be Always, IfNotPresent or Never");
    out.instance = s.text("instance", out.instance);
    if (!label_value(out.instance))
        throw std::invalid_argument(table + ".instance: must be a label value (at most 63 letters, digits, "
                                    "'-', '_' or '.', alphanumeric at both ends)");
    out.agent_port = s.integer<std::uint16_t>("agent_port", out.agent_port, 1024, 65535);
    out.agent_uid = s.integer<std::uint32_t>("agent_uid", out.agent_uid, 1, 4294967294u);
    out.kernel_uid = s.integer<std::uint32_t>("kernel_uid", out.kernel_uid, 1, 4294967294u);
    if (out.agent_uid == out.kernel_uid)
        throw std::invalid_argument(table + ".kernel_uid: must differ from agent_uid: user code must not reach the agent");
    out.runtime_class = s.text("runtime_class", "", plugin::Settings::Empty::allowed);
    if (!out.runtime_class.empty() && !dns_label(out.runtime_class))
        throw std::invalid_argument(table + ".runtime_class: not a RuntimeClass name: " + out.runtime_class);
    out.storage_class = s.text("storage_class", "", plugin::Settings::Empty::allowed);
    out.egress = s.text("egress", out.egress);
    if (out.egress != "none" && out.egress != "internet")
        throw std::invalid_argument(table + ".egress: must be none or internet");
    out.ephemeral_storage_mb = s.integer<std::uint64_t>("ephemeral_storage_mb", out.ephemeral_storage_mb, 16, 1 << 20);
    out.agent_cpu_millis = s.integer<std::uint32_t>("agent_cpu_millis", out.agent_cpu_millis, 10, 4000);
    out.agent_memory_mb = s.integer<std::uint64_t>("agent_memory_mb", out.agent_memory_mb, 32, 4096);
    out.start_timeout = s.seconds("start_timeout", out.start_timeout);
    if (out.start_timeout < std::chrono::seconds(1))
        throw std::invalid_argument(table + ".start_timeout: must be at least 1 second");
    out.share_sessions = s.flag("share_sessions", out.share_sessions);
    out.gateway_id = s.text("gateway_id", host_name, plugin::Settings::Empty::allowed);
    if (out.share_sessions && !label_value(out.gateway_id))
        throw std::invalid_argument(table + ".gateway_id: with share_sessions each gateway needs its own id, a label "
                                    "value (default: $HOSTNAME), got '" + out.gateway_id + "'");
    out.node_selector = read_node_selector(context.config, table);
    out.tolerations = read_tolerations(context.config, table);
    s.reject_unknown({"node_selector", "tolerations"});
    return out;
}

}  // namespace ci::kube
