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
        } else if (item.type == "display_data" || item.type == "execute_result") {
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

}  // namespace ci
