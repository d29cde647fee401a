#include "result_format.hpp"

namespace ci {

std::string strip_ansi(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\x1b') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '[') {
            // CSI: ESC [ parameters... final byte in 0x40-0x7e
            std::size_t j = i + 2;
            while (j < text.size() && !(text[j] >= 0x40 && text[j] <= 0x7e)) ++j;
            i = j;
        } else if (i + 1 < text.size() && text[i + 1] == ']') {
            // OSC: ESC ] ... terminated by BEL or ESC backslash
            std::size_t j = i + 2;
            while (j < text.size() && text[j] != '\x07' && !(text[j] == '\x1b' && j + 1 < text.size() && text[j + 1] == '\\')) ++j;
            i = (j < text.size() && text[j] == '\x1b') ? j + 1 : j;
        } else {
            ++i;  // two-character escape
        }
    }
    return out;
}

namespace {

void append_block(std::string& out, const std::string& block) {
    if (block.empty()) return;
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
    out += block;
}

std::string plain_text(const nlohmann::json& data) {
    auto it = data.find("text/plain");
    if (it == data.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_array()) {  // some kernels split text into lines
        std::string joined;
        for (auto& part : *it)
            if (part.is_string()) joined += part.get<std::string>();
        return joined;
    }
    return {};
}

// Jupyter may wrap the base64 of binary images at 76 columns; answers carry one plain string.
nlohmann::json unwrapped_bundle(const nlohmann::json& data) {
    if (!data.is_object()) return nlohmann::json::object();
    nlohmann::json out = data;
    for (auto& [mime, value] : out.items()) {
        bool binary_image = mime.rfind("image/", 0) == 0 && mime.find("+xml") == std::string::npos;
        if (binary_image && value.is_string()) std::erase(value.get_ref<std::string&>(), '\n');
    }
    return out;
}

nlohmann::json display_json(const protocol::OutputItem& item) {
    return {{"type", item.type},
            {"data", unwrapped_bundle(item.data)},
            {"metadata", item.metadata.is_object() ? item.metadata : nlohmann::json::object()}};
}

nlohmann::json exception_json(const protocol::OutputItem& item) {
    nlohmann::json traceback = nlohmann::json::array();
    for (const auto& line : item.traceback) traceback.push_back(strip_ansi(line));
    return {{"ename", item.ename}, {"evalue", item.evalue}, {"traceback", std::move(traceback)}};
}

bool is_display(const protocol::OutputItem& item) {
    return item.type == "display_data" || item.type == "execute_result";
}

}  // namespace

nlohmann::json seed_response(const protocol::ExecutionResult& result) {
    std::string text;
    std::string png;
    for (const auto& item : result.outputs) {
        if (item.type == "stream") {
            text += item.text;
        } else if (item.type == "error") {
            std::string traceback;
            for (const auto& line : item.traceback) {
                if (!traceback.empty()) traceback.push_back('\n');
                traceback += strip_ansi(line);
            }
            if (traceback.empty()) traceback = item.ename + ": " + item.evalue;
            append_block(text, traceback);
        } else if (is_display(item)) {
            auto png_it = item.data.find("image/png");
            if (png_it != item.data.end() && png_it->is_string()) {
                png = png_it->get<std::string>();
                // Jupyter may wrap base64 at 76 columns; the seed's field is one plain string.
                std::erase(png, '\n');
            } else {
                append_block(text, plain_text(item.data));
            }
        }
    }
    if (result.truncated) append_block(text, "[output truncated: the execution produced more than the output limit]");
    return nlohmann::json{{"result_text", text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text)},
                          {"result_base64", png.empty() ? nlohmann::json(nullptr) : nlohmann::json(png)}};
}

nlohmann::json output_fields(const protocol::ExecutionResult& result) {
    std::string out;
    std::string err;
    nlohmann::json outputs = nlohmann::json::array();
    nlohmann::json error = nullptr;
    for (const auto& item : result.outputs) {
        if (item.type == "stream") {
            (item.name == "stderr" ? err : out) += item.text;
        } else if (is_display(item)) {
            outputs.push_back(display_json(item));
        } else if (item.type == "error") {
            error = exception_json(item);
        }
    }
    return {{"stdout", std::move(out)},
            {"stderr", std::move(err)},
            {"outputs", std::move(outputs)},
            {"error", std::move(error)},
            {"execution_count", result.execution_count},
            {"duration_ms", result.duration_ms},
            {"truncated", result.truncated}};
}

nlohmann::json session_fields(bool new_session, const std::string& previous_session) {
    return {{"new_session", new_session},
            {"previous_session", previous_session.empty() ? nlohmann::json(nullptr) : nlohmann::json(previous_session)}};
}

std::optional<OutputEvent> output_event(const protocol::OutputItem& item) {
    if (item.type == "stream")
        return OutputEvent{item.name == "stderr" ? "stderr" : "stdout", {{"text", item.text}}};
    if (is_display(item)) return OutputEvent{"display", display_json(item)};
    if (item.type == "error") return OutputEvent{"error", exception_json(item)};
    return std::nullopt;
}

}  // namespace ci
