// /api/v1/files on the real stack: uploads (raw and multipart) and downloads keep every byte,
// code and the API see the same workspace, escapes are refused, limits answer 413, and file
// operations run beside a running execution.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "code_interpreter/protocol/base64.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

constexpr int kMaxUpload = 100000;
constexpr int kMaxDownload = 50000;

HttpResponse send(const std::string& method, const std::string& url, const std::string& body,
                  const std::vector<FormPart>& form = {}) {
    return http_send(method, url, body, kUserToken, form, 60);
}

FormPart file_part(const std::string& bytes) { return FormPart{"file", bytes, "upload.bin"}; }

// Every byte value, and what looks like HTTP and multipart framing.
std::string binary_bytes() {
    std::string bytes;
    for (int round = 0; round < 4; ++round)
        for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
    static const char framing[] = "\r\n--boundary\r\n\r\n\0end";
    return bytes.append(framing, sizeof framing - 1);
}

class FilesTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>(
            "files", TestGatewayOptions{.min_idle = 1, .max_total = 9, .timeout_s = 30,
                                        .extra_toml = "[files]\nmax_upload_bytes = " + std::to_string(kMaxUpload) +
                                                      "\nmax_download_bytes = " + std::to_string(kMaxDownload) + "\n"});
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
    }

    static std::string url(const std::string& path) { return gateway_->url(path); }
    static std::string query(const std::string& user, const std::string& path) {
        return "?user_uuid=" + user + "&path=" + url_escape(path);
    }
    static HttpResponse upload(const std::string& user, const std::string& path, const std::string& bytes,
                               const std::string& extra = "") {
        return send("POST", url("/api/v1/files" + query(user, path) + extra), bytes);
    }
    static HttpResponse download(const std::string& user, const std::string& path) {
        return send("GET", url("/api/v1/files" + query(user, path)), "");
    }
    static HttpResponse list(const std::string& user, const std::string& path) {
        return send("GET", url("/api/v1/files/list" + query(user, path)), "");
    }
    static HttpResponse run(const std::string& user, const std::string& code) { return execute_as(url(""), user, code); }

    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(FilesTest, RawUploadAndDownloadKeepEveryByteAndStartASession) {
    const std::string user = user_of(301);
    const std::string bytes = binary_bytes();
    auto up = upload(user, "data/bin.dat", bytes);
    ASSERT_EQ(up.status, 200) << up.body;
    EXPECT_EQ(body_of(up)["path"], "data/bin.dat");
    EXPECT_EQ(body_of(up)["size"], bytes.size());
    EXPECT_EQ(body_of(up)["new_session"], true);
    EXPECT_TRUE(body_of(up)["previous_session"].is_null());

    auto down = download(user, "data/bin.dat");
    ASSERT_EQ(down.status, 200) << down.body.substr(0, 200);
    EXPECT_EQ(down.body, bytes);
    EXPECT_EQ(down.headers["content-type"], "application/octet-stream");
    EXPECT_NE(down.headers["content-disposition"].find("filename=\"bin.dat\""), std::string::npos)
        << down.headers["content-disposition"];
    auto seen = run(user, "print(len(open('data/bin.dat', 'rb').read()))");
    EXPECT_EQ(result_text(seen), std::to_string(bytes.size()) + "\n");
    EXPECT_EQ(body_of(seen)["new_session"], false);
}

TEST_F(FilesTest, AMultipartUploadIsReadableByCode) {
    const std::string user = user_of(302);
    const std::string content = "hello from upload";
    auto up = send("POST", url("/api/v1/files"), "",
                   {{"user_uuid", user}, {"path", "notes/hello.txt"}, file_part(content)});
    ASSERT_EQ(up.status, 200) << up.body;
    EXPECT_EQ(body_of(up)["size"], content.size());
    EXPECT_EQ(result_text(run(user, "print(open('notes/hello.txt').read())")), content + "\n");

    // Without a path the file part's name is used; overwrite=false refuses an existing file.
    const std::string binary = binary_bytes();
    auto named = send("POST", url("/api/v1/files"), "", {{"user_uuid", user}, file_part(binary)});
    ASSERT_EQ(named.status, 200) << named.body;
    EXPECT_EQ(body_of(named)["path"], "upload.bin");
    EXPECT_EQ(download(user, "upload.bin").body, binary);
    auto refused = send("POST", url("/api/v1/files"), "",
                        {{"user_uuid", user}, {"overwrite", "false"}, file_part(content)});
    EXPECT_EQ(refused.status, 409) << refused.body;
    EXPECT_EQ(reason_of(refused), "file_exists");
    EXPECT_EQ(download(user, "upload.bin").body, binary);
}

TEST_F(FilesTest, AFileWrittenByCodeIsDownloadableExportableAndListed) {
    const std::string user = user_of(303);
    ASSERT_EQ(run(user, "import os\nos.makedirs('out', exist_ok=True)\nopen('out/r.txt', 'w').write('result')").status, 200);
    auto down = download(user, "out/r.txt");
    ASSERT_EQ(down.status, 200) << down.body;
    EXPECT_EQ(down.body, "result");

    auto exported = send("POST", url("/api/v1/files/export"), json{{"user_uuid", user}, {"path", "out/r.txt"}}.dump());
    ASSERT_EQ(exported.status, 200) << exported.body;
    auto body = body_of(exported);
    EXPECT_EQ(body["path"], "out/r.txt");
    EXPECT_EQ(body["size"], 6);
    EXPECT_EQ(protocol::base64_decode(body["data_base64"].get<std::string>()), "result");
    EXPECT_EQ(body["new_session"], false);

    auto listed = list(user, "out");
    ASSERT_EQ(listed.status, 200) << listed.body;
    auto entries = body_of(listed)["entries"];
    ASSERT_EQ(entries.size(), 1u) << listed.body;
    EXPECT_EQ(entries[0]["name"], "r.txt");
    EXPECT_EQ(entries[0]["type"], "file");
    EXPECT_EQ(entries[0]["size"], 6);
    EXPECT_GT(entries[0]["modified_unix_ms"].get<long long>(), 1'600'000'000'000LL);
    auto root = send("GET", url("/api/v1/files/list?user_uuid=" + user), "");
    ASSERT_EQ(root.status, 200) << root.body;
    bool found = false;
    auto root_entries = body_of(root)["entries"];
    for (const auto& entry : root_entries) found = found || (entry["name"] == "out" && entry["type"] == "directory");
    EXPECT_TRUE(found) << root.body;
}

TEST_F(FilesTest, DeleteNeedsRecursiveForADirectoryAndRefusalsKeepTheWorker) {
    const std::string user = user_of(304);
    ASSERT_EQ(run(user, "kept = 1\nimport os\nos.makedirs('d/e')\nopen('d/e/f', 'w').write('x')").status, 200);
    auto refused = send("DELETE", url("/api/v1/files" + query(user, "d")), "");
    EXPECT_EQ(refused.status, 409) << refused.body;
    auto deleted = send("DELETE", url("/api/v1/files"), json{{"user_uuid", user}, {"path", "d"}, {"recursive", true}}.dump());
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(body_of(deleted)["status"], "ok");
    auto gone = download(user, "d/e/f");
    EXPECT_EQ(gone.status, 404) << gone.body;
    EXPECT_EQ(reason_of(gone), "not_found");
    EXPECT_EQ(list(user, "d").status, 404);
    // None of those refusals recycled the worker.
    auto still = run(user, "print(kept)");
    EXPECT_EQ(result_text(still), "1\n");
    EXPECT_EQ(body_of(still)["new_session"], false);
}

TEST_F(FilesTest, PathsLeavingTheWorkspaceAreRefused) {
    const std::string user = user_of(305);
    ASSERT_EQ(run(user, "import os\nos.symlink('/etc', 'x')").status, 200);
    for (const std::string path : {"../escape", "/etc/passwd", "a/../../escape", "x/passwd", "x/evil"}) {
        auto down = download(user, path);
        EXPECT_EQ(down.status, 400) << path << ": " << down.body;
        EXPECT_EQ(reason_of(down), "invalid_path") << path;
        auto up = upload(user, path, "no");
        EXPECT_EQ(up.status, 400) << path << ": " << up.body;
        EXPECT_EQ(reason_of(up), "invalid_path") << path;
    }
    EXPECT_EQ(list(user, "x").status, 400);
    EXPECT_EQ(send("DELETE", url("/api/v1/files" + query(user, "x/passwd")), "").status, 400);
    EXPECT_EQ(result_text(run(user, "print(os.path.exists('/etc/passwd'))")), "True\n");
}

TEST_F(FilesTest, SizesAboveTheLimitsAnswer413) {
    const std::string user = user_of(306);
    auto at_limit = upload(user, "big.bin", std::string(kMaxUpload, 'a'));
    EXPECT_EQ(at_limit.status, 200) << at_limit.body;
    auto over = upload(user, "bigger.bin", std::string(kMaxUpload + 1, 'a'));
    EXPECT_EQ(over.status, 413) << over.body;
    EXPECT_EQ(reason_of(over), "payload_too_large");
    EXPECT_NE(body_of(over)["detail"].get<std::string>().find("files.max_upload_bytes"), std::string::npos) << over.body;
    // big.bin is above the download limit.
    auto down = download(user, "big.bin");
    EXPECT_EQ(down.status, 413) << down.body;
    EXPECT_EQ(reason_of(down), "payload_too_large");
    EXPECT_NE(body_of(down)["detail"].get<std::string>().find("files.max_download_bytes"), std::string::npos) << down.body;
    auto exported = send("POST", url("/api/v1/files/export"), json{{"user_uuid", user}, {"path", "big.bin"}}.dump());
    EXPECT_EQ(exported.status, 413) << exported.body;
}

TEST_F(FilesTest, FileOperationsRunBesideARunningExecution) {
    const std::string user = user_of(307);
    ASSERT_EQ(run(user, "x = 1").status, 200);
    auto sleeping = std::async(std::launch::async, [&] { return run(user, "import time\ntime.sleep(6)\nprint('woke')"); });
    ASSERT_TRUE(wait_until(
        [&] {
            auto status = status_of(url(""));
            return status.is_object() && status.value("running_executions", 0) == 1;
        },
        std::chrono::seconds(20)));
    auto started = std::chrono::steady_clock::now();
    ASSERT_EQ(upload(user, "side.txt", "beside").status, 200);
    EXPECT_EQ(download(user, "side.txt").body, "beside");
    EXPECT_LT(ms_since(started), 3000) << "the file operations waited for the execution";
    EXPECT_EQ(sleeping.wait_for(std::chrono::seconds(0)), std::future_status::timeout) << "the execution ended early";
    auto woke = sleeping.get();
    EXPECT_EQ(woke.status, 200) << woke.body;
    EXPECT_EQ(result_text(woke), "woke\n");
}

TEST_F(FilesTest, BadRequestsAreRefusedBeforeAnySession) {
    auto no_path = send("GET", url("/api/v1/files?user_uuid=" + user_of(308)), "");
    EXPECT_EQ(no_path.status, 400);
    EXPECT_EQ(body_of(no_path)["detail"], "missing field path");
    auto no_user = send("GET", url("/api/v1/files?path=a"), "");
    EXPECT_EQ(no_user.status, 400);
    auto no_file = send("POST", url("/api/v1/files"), "", {{"user_uuid", user_of(308)}});
    EXPECT_EQ(no_file.status, 400);
    EXPECT_EQ(body_of(no_file)["detail"], "a multipart upload needs a part named file");
    auto interrupt = http_request("POST", url("/api/v1/interrupt"), json{{"user_uuid", user_of(308)}}.dump(), kUserToken);
    EXPECT_EQ(interrupt.status, 404) << "a refused request made a session";
}

}  // namespace
}  // namespace ci::test
