// The original project's file transfer requests: what passes its checks and what answers 422.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include "request_fields.hpp"
#include "url_file_requests.hpp"

namespace ci {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json import_of(const std::string& path, const std::string& name, const std::string& url = "https://example.com/f") {
    return {{"files", json::array({{{"download_url", url}, {"path", path}, {"name", name}}})}};
}

std::string refusal(const std::variant<std::vector<UrlImport>, ApiError>& parsed) {
    if (!std::holds_alternative<ApiError>(parsed)) return "accepted";
    EXPECT_EQ(std::get<ApiError>(parsed).reason, ErrorReason::validation_failed);
    return std::get<ApiError>(parsed).message;
}

TEST(UrlFileRequests, PathsInTheOriginalsFormAndOursNameAFileInTheWorkspace) {
    const std::tuple<const char*, const char*, const char*, const char*> cases[] = {
        {"/sandbox", "a.json", "a.json", "/sandbox/a.json"},
        {"/sandbox/", "a.json", "a.json", "/sandbox/a.json"},
        {"/sandbox/data/", "file1.json", "data/file1.json", "/sandbox/data/file1.json"},
        {"/sandbox/nested/deep", "f.tar.gz", "nested/deep/f.tar.gz", "/sandbox/nested/deep/f.tar.gz"},
        {"data/in", "x.csv", "data/in/x.csv", "/sandbox/data/in/x.csv"},
        {"/sandbox/report.v2", "r.pdf", "report.v2/r.pdf", "/sandbox/report.v2/r.pdf"},
        // The original's leniency: the path already ends with the name.
        {"/sandbox/data/a.csv", "a.csv", "data/a.csv", "/sandbox/data/a.csv"},
        {"/sandbox/数据", "文件.txt", "数据/文件.txt", "/sandbox/数据/文件.txt"},
    };
    for (const auto& [path, name, relative, absolute] : cases) {
        auto parsed = parse_url_imports(import_of(path, name));
        ASSERT_TRUE(std::holds_alternative<std::vector<UrlImport>>(parsed)) << path << " " << refusal(parsed);
        const auto& file = std::get<std::vector<UrlImport>>(parsed).at(0).file;
        EXPECT_EQ(file.relative, relative) << path;
        EXPECT_EQ(file.absolute, absolute) << path;
        EXPECT_EQ(file.request_path, path);
        EXPECT_EQ(file.name, name);
    }
}

TEST(UrlFileRequests, TraversalInPathOrNameIsRefused) {
    for (const char* path : {"/sandbox/../../../etc/", "/sandbox/../../etc/", "/sandbox/..", "/sandbox/./x",
                             "/etc", "/sandboxed/x", "/", "", "../x", "a//b", "/sandbox/a/../b", "/sandbox/.hidden",
                             "/sandbox/a.", "/sandbox/a b", "/sandbox/a\\b"})
        EXPECT_THAT(refusal(parse_url_imports(import_of(path, "f.txt"))), HasSubstr("\"path\"")) << path;
    for (const char* name : {"../../../etc/passwd", "a/b", "..", ".", "", "a\\b", "a b", "x;rm"})
        EXPECT_THAT(refusal(parse_url_imports(import_of("/sandbox/", name))), HasSubstr("\"name\"")) << name;
    EXPECT_THAT(refusal(parse_url_imports(import_of("/sandbox/" + std::string(1020, 'a'), "f"))),
                HasSubstr("longer than 1024"));
    EXPECT_THAT(refusal(parse_url_imports(import_of("/sandbox/", std::string(256, 'a')))),
                HasSubstr("longer than 255"));
    // A dotfile name is a name like any other (the original's pattern allows it).
    EXPECT_EQ(refusal(parse_url_imports(import_of("/sandbox/", ".env"))), "accepted");
}

TEST(UrlFileRequests, OneToAHundredFilesOfObjects) {
    json files = json::array();
    for (int i = 0; i < 101; ++i)
        files.push_back({{"download_url", "https://example.com/f"}, {"path", "/sandbox/"}, {"name", "f" + std::to_string(i)}});
    EXPECT_THAT(refusal(parse_url_imports({{"files", files}})), HasSubstr("1 to 100 files, not 101"));
    files.erase(files.begin());
    EXPECT_EQ(std::get<std::vector<UrlImport>>(parse_url_imports({{"files", files}})).size(), 100u);
    EXPECT_THAT(refusal(parse_url_imports({{"files", json::array()}})), HasSubstr("not 0"));
    EXPECT_THAT(refusal(parse_url_imports({{"files", "x"}})), HasSubstr("must be an array"));
    EXPECT_THAT(refusal(parse_url_imports({{"files", json::array({1})}})), HasSubstr("must be an object"));
    EXPECT_THAT(refusal(parse_url_imports({{"files", json::array({{{"path", "/sandbox"}, {"name", "a"}}})}})),
                HasSubstr("download_url"));
}

TEST(UrlFileRequests, UrlsMustBeHttpOrHttps) {
    for (const char* url : {"file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)", "//example.com/x"})
        EXPECT_THAT(refusal(parse_url_imports(import_of("/sandbox/", "f", url))), HasSubstr("download_url")) << url;
}

TEST(UrlFileRequests, ExportsTakeAPutUrlOrAPresignedPostWithStringFields) {
    json body = {{"files", json::array({{{"path", "/sandbox/out"}, {"name", "r.csv"}, {"upload_url", "https://s3.example.com/b"}},
                                        {{"path", "/sandbox"},
                                         {"name", "p.png"},
                                         {"upload_url", "https://s3.example.com/"},
                                         {"upload_fields", {{"key", "uploads/p.png"}, {"policy", "abc"}}}}})}};
    auto parsed = parse_url_exports(body);
    ASSERT_TRUE(std::holds_alternative<std::vector<UrlExport>>(parsed));
    const auto& files = std::get<std::vector<UrlExport>>(parsed);
    EXPECT_EQ(files[0].file.relative, "out/r.csv");
    EXPECT_FALSE(files[0].form_fields);
    ASSERT_TRUE(files[1].form_fields);
    EXPECT_EQ(*files[1].form_fields, (FormFields{{"key", "uploads/p.png"}, {"policy", "abc"}}));

    body["files"][1]["upload_fields"] = {{"key", 5}};
    EXPECT_EQ(std::get<ApiError>(parse_url_exports(body)).reason, ErrorReason::validation_failed);
    body["files"][1]["upload_fields"] = {{"file", "x"}};
    EXPECT_EQ(std::get<ApiError>(parse_url_exports(body)).reason, ErrorReason::validation_failed);
    body["files"][1]["upload_fields"] = nullptr;
    EXPECT_FALSE(std::get<std::vector<UrlExport>>(parse_url_exports(body))[1].form_fields);
    body["files"][0]["path"] = "/sandbox/../../etc/";
    EXPECT_EQ(std::get<ApiError>(parse_url_exports(body)).reason, ErrorReason::validation_failed);
}

TEST(UrlFileRequests, OnlyAFilesArrayMarksTheOriginalsForm) {
    EXPECT_TRUE(is_url_transfer_body({{"files", json::array()}}));
    EXPECT_FALSE(is_url_transfer_body({{"user_uuid", "x"}, {"path", "a"}}));
    EXPECT_FALSE(is_url_transfer_body(json::array()));
}

TEST(UrlFileRequests, OurFileRoutesTakeTheOriginalsAbsolutePathsToo) {
    EXPECT_EQ(workspace_relative("/sandbox"), ".");
    EXPECT_EQ(workspace_relative("/sandbox/"), ".");
    EXPECT_EQ(workspace_relative("/sandbox/a/b.txt"), "a/b.txt");
    EXPECT_EQ(workspace_relative("a/b.txt"), "a/b.txt");
    EXPECT_EQ(workspace_relative("/sandboxed/a"), "/sandboxed/a");  // the agent refuses it
    EXPECT_EQ(workspace_relative("/etc/passwd"), "/etc/passwd");
    EXPECT_EQ(std::get<std::string>(path_field({{"path", "/sandbox/x"}}, std::nullopt)), "x");
}

}  // namespace
}  // namespace ci
