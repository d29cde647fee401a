#include "mcp_content.hpp"

#include "code_interpreter/protocol/base64.hpp"
#include "result_format.hpp"

namespace ci::mcp {
namespace {

using nlohmann::json;

json text_item(std::string text) { return {{"type", "text"}, {"text", std::move(text)}}; }

bool valid_utf8_text(const std::string& bytes) {
    std::size_t i = 0;
    while (i < bytes.size()) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c == 0) return false;
        const std::size_t extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : 4;
        if (extra == 4 || i + extra >= bytes.size()) return false;
        for (std::size_t k = 1; k <= extra; ++k)
            if ((static_cast<unsigned char>(bytes[i + k]) >> 6) != 0x2) return false;
        i += extra + 1;
    }
    return true;
}

// By content, not name: a file called x.png holding text is text.
std::optional<std::string> sniffed_image(const std::string& bytes) {
    if (bytes.starts_with("\x89PNG\r\n\x1a\n")) return "image/png";
    if (bytes.starts_with("\xff\xd8\xff")) return "image/jpeg";
    if (bytes.starts_with("GIF87a") || bytes.starts_with("GIF89a")) return "image/gif";
    if (bytes.size() >= 12 && bytes.starts_with("RIFF") && bytes.compare(8, 4, "WEBP") == 0) return "image/webp";
    return std::nullopt;
}

std::string mime_by_extension(std::string_view path) {
    static const std::pair<std::string_view, std::string_view> kTypes[] = {
        {".pdf", "application/pdf"}, {".zip", "application/zip"}, {".gz", "application/gzip"},
        {".parquet", "application/vnd.apache.parquet"}, {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {".pkl", "application/octet-stream"}, {".npy", "application/octet-stream"},
    };
    for (const auto& [extension, type] : kTypes)
        if (path.ends_with(extension)) return std::string(type);
    return "application/octet-stream";
}

}  // namespace

std::optional<std::string> image_type(const json& bundle) {
    if (!bundle.is_object()) return std::nullopt;
    for (const char* type : {"image/png", "image/jpeg", "image/gif", "image/webp"}) {
        const auto it = bundle.find(type);
        if (it != bundle.end() && it->is_string()) return std::string(type);
    }
    return std::nullopt;
}

json execution_result(const protocol::ExecutionResult& result, const std::string& previous_session) {
    const json fields = output_fields(result);
    json content = json::array();
    if (const auto& out = fields["stdout"].get_ref<const std::string&>(); !out.empty()) content.push_back(text_item(out));
    if (const auto& err = fields["stderr"].get_ref<const std::string&>(); !err.empty())
        content.push_back(text_item("[stderr]\n" + err));
    for (const auto& output : fields["outputs"]) {
        const json& bundle = output["data"];
        if (auto type = image_type(bundle)) {
            content.push_back({{"type", "image"}, {"data", bundle[*type]}, {"mimeType", *type}});
            continue;
        }
        const auto text = bundle.find("text/plain");
        if (text != bundle.end() && text->is_string()) content.push_back(text_item(text->get<std::string>()));
    }
    const json& error = fields["error"];
    if (!error.is_null()) {
        std::string text = error["ename"].get<std::string>() + ": " + error["evalue"].get<std::string>();
        for (const auto& line : error["traceback"]) text += "\n" + line.get<std::string>();
        content.push_back(text_item(std::move(text)));
    }
    if (result.truncated)
        content.push_back(text_item("[output truncated: the execution produced more than the output limit]"));
    if (content.empty()) content.push_back(text_item("(no output)"));
    if (!previous_session.empty())
        content.push_back(text_item("[note: this ran in a new Python session; the previous one ended (" +
                                    previous_session + "), so earlier variables and files are gone]"));
    return {{"content", std::move(content)}, {"isError", !error.is_null() || result.status == "error"}};
}

json failure_result(const ApiError& error) {
    return {{"content", json::array({text_item(std::string(reason_code(error.reason)) + ": " + error.message)})},
            {"isError", true}};
}

json text_result(std::string text) { return {{"content", json::array({text_item(std::move(text))})}, {"isError", false}}; }

json file_result(std::string_view path, const std::string& bytes) {
    json item;
    if (auto image = sniffed_image(bytes)) {
        item = {{"type", "image"}, {"data", protocol::base64_encode(bytes)}, {"mimeType", *image}};
    } else if (valid_utf8_text(bytes)) {
        item = text_item(bytes);
    } else {
        std::string relative(path);
        while (relative.starts_with("./")) relative.erase(0, 2);
        item = {{"type", "resource"},
                {"resource",
                 {{"uri", "file:///sandbox/" + relative},
                  {"mimeType", mime_by_extension(path)},
                  {"blob", protocol::base64_encode(bytes)}}}};
    }
    return {{"content", json::array({std::move(item)})}, {"isError", false}};
}

std::optional<std::string> progress_text(const protocol::OutputItem& item) {
    if (item.type == "stream") return item.text;
    if (item.type == "error") return item.ename + ": " + item.evalue;
    if (item.type == "display_data" || item.type == "execute_result") {
        if (image_type(item.data)) return "[image]";
        const auto text = item.data.find("text/plain");
        if (text != item.data.end() && text->is_string()) return text->get<std::string>();
    }
    return std::nullopt;
}

}  // namespace ci::mcp
