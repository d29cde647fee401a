#include "multipart.hpp"

#include <algorithm>
#include <cctype>

namespace ci {
namespace {

constexpr std::string_view kCrlf = "\r\n";

ApiError malformed(const std::string& why) {
    return {ErrorReason::bad_request, "malformed multipart/form-data body: " + why};
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

struct Disposition {
    std::string type;
    std::optional<std::string> name;
    std::optional<std::string> filename;
};

// `form-data; name="field"; filename="a b.txt"`: parameters are tokens or quoted strings, whose
// backslash escapes are undone.
Disposition parse_disposition(std::string_view value) {
    Disposition out;
    std::size_t semicolon = value.find(';');
    out.type = std::string(trim(value.substr(0, semicolon)));
    std::size_t i = semicolon == std::string_view::npos ? value.size() : semicolon + 1;
    while (i < value.size()) {
        std::size_t key_end = value.find_first_of("=;", i);
        std::string_view key = trim(value.substr(i, key_end - i));  // npos - i: to the end
        if (key_end == std::string_view::npos) break;
        i = key_end + 1;
        if (value[key_end] == ';') continue;
        while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
        std::string param;
        if (i < value.size() && value[i] == '"') {
            for (++i; i < value.size() && value[i] != '"'; ++i) {
                if (value[i] == '\\' && i + 1 < value.size()) ++i;
                param.push_back(value[i]);
            }
            i = value.find(';', i);
            i = i == std::string_view::npos ? value.size() : i + 1;
        } else {
            std::size_t end = value.find(';', i);
            param = std::string(trim(value.substr(i, end - i)));
            i = end == std::string_view::npos ? value.size() : end + 1;
        }
        if (iequals(key, "name"))
            out.name = std::move(param);
        else if (iequals(key, "filename"))
            out.filename = std::move(param);
    }
    return out;
}

}  // namespace

std::variant<std::vector<FormPart>, ApiError> parse_multipart(std::string_view body, std::string_view boundary) {
    if (boundary.empty() || boundary.size() > 70) return malformed("the boundary must have 1 to 70 characters");
    const std::string delimiter = "--" + std::string(boundary);
    const std::string next_delimiter = std::string(kCrlf) + delimiter;
    // The first delimiter starts the body or ends a preamble.
    std::size_t pos = 0;
    if (body.substr(0, delimiter.size()) != delimiter) {
        pos = body.find(next_delimiter);
        if (pos == std::string_view::npos) return malformed("no boundary line");
        pos += kCrlf.size();
    }
    std::vector<FormPart> parts;
    for (;;) {
        pos += delimiter.size();
        if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
        std::size_t line_end = body.find(kCrlf, pos);
        if (line_end == std::string_view::npos || !trim(body.substr(pos, line_end - pos)).empty())
            return malformed("a boundary line has more after the boundary");
        pos = line_end + kCrlf.size();

        std::string_view headers;
        std::size_t content = pos + kCrlf.size();
        if (body.substr(pos, kCrlf.size()) != kCrlf) {
            std::size_t headers_end = body.find("\r\n\r\n", pos);
            if (headers_end == std::string_view::npos) return malformed("a part's headers do not end");
            headers = body.substr(pos, headers_end - pos);
            content = headers_end + 2 * kCrlf.size();
        }
        std::size_t content_end = body.find(next_delimiter, content);
        if (content_end == std::string_view::npos) return malformed("a part is not closed by a boundary line");

        std::optional<Disposition> disposition;
        while (!headers.empty()) {
            std::size_t end = headers.find(kCrlf);
            std::string_view line = headers.substr(0, end);
            headers = end == std::string_view::npos ? std::string_view() : headers.substr(end + kCrlf.size());
            std::size_t colon = line.find(':');
            if (colon == std::string_view::npos) return malformed("a part's header line has no colon");
            if (iequals(trim(line.substr(0, colon)), "content-disposition"))
                disposition = parse_disposition(line.substr(colon + 1));
        }
        if (!disposition || !iequals(disposition->type, "form-data") || !disposition->name)
            return malformed("a part has no Content-Disposition: form-data with a name");
        parts.push_back(FormPart{std::move(*disposition->name), std::move(disposition->filename),
                                 body.substr(content, content_end - content)});
        pos = content_end + kCrlf.size();
    }
}

}  // namespace ci
