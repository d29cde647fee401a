#pragma once
// The original project's file transfer requests, checked as it checks them (its routes answer
// 422 validation_failed for anything here):
//   POST /api/v1/files         {"files": [{"download_url", "path", "name"}, ...]}
//   POST /api/v1/files/export  {"files": [{"path", "name", "upload_url", "upload_fields"?}, ...]}
// 1 to kMaxUrlFiles files; "path" a directory of the workspace, at most 1024 characters, either
// the original's absolute form ("/sandbox", "/sandbox/data/") or ours, relative to the workspace
// ("data/"), made of segments of letters, digits, '_' and '-' joined by single dots (so no "..",
// no empty segment, no separator but '/'); "name" 1 to 255 characters of letters, digits, '_',
// '-' and '.', not "." or "..". As in the original, a path whose last segment is the name itself
// names the file, not its directory. Letters include any non-ASCII (UTF-8) character, as the
// original's \w does; the worker's agent confines every path to the workspace regardless.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_error.hpp"
#include "url_policy.hpp"
#include "url_transfer.hpp"

namespace ci {

inline constexpr std::size_t kMaxUrlFiles = 100;

// A file of a request: where it is in the workspace, as the agent and the caller see it.
struct WorkspaceFile {
    std::string request_path;  // "path" as sent
    std::string name;          // "name" as sent
    std::string relative;      // for the agent: "data/file.csv"
    std::string absolute;      // for the answer: "/sandbox/data/file.csv"
};

struct UrlImport {
    WorkspaceFile file;
    ParsedUrl url;
};

struct UrlExport {
    WorkspaceFile file;
    ParsedUrl url;
    std::optional<FormFields> form_fields;  // set: a presigned POST; else a PUT
};

// Whether body has the original's shape (a "files" array), as opposed to our own forms of the
// same routes.
bool is_url_transfer_body(const nlohmann::json& body);

std::variant<std::vector<UrlImport>, ApiError> parse_url_imports(const nlohmann::json& body);
std::variant<std::vector<UrlExport>, ApiError> parse_url_exports(const nlohmann::json& body);

}  // namespace ci
