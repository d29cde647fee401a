// Transfers by URL end to end inside one process: a real HTTP server on loopback (allowed by the
// policy's private-host list), the gateway's transfer code, and the worker agent's own file
// operations on a temporary workspace standing in for the session's worker.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "code_interpreter/agent/workspace_files.hpp"
#include "code_interpreter/fd/unique_fd.hpp"
#include "agent_errors.hpp"
#include "http_test_server.hpp"
#include "multipart.hpp"
#include "url_files.hpp"

namespace ci {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::HttpTestServer;
using test::pattern_bytes;
using test::ReceivedRequest;
using test::ServedResponse;
using ::testing::HasSubstr;

using Result = std::variant<std::vector<FileTransferOutcome>, ApiError>;

class UrlFiles : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "ci-url-files.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        workspace_path_ = tmpl;
        workspace_ = fd::UniqueFd(::open(workspace_path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        server_ = std::make_unique<HttpTestServer>([this](const ReceivedRequest& r) { return serve(r); });
        make_transfers(settings_);
    }
    void TearDown() override {
        server_.reset();
        transfers_.reset();
        threads_.reset();
        std::error_code ec;
        fs::remove_all(workspace_path_, ec);
    }

    void make_transfers(TransferSettings settings) {
        transfers_.reset();
        threads_ = std::make_unique<TaskRunner>(2);
        transfers_ = std::make_unique<UrlFileTransfers>(
            UrlPolicy{true, {"127.0.0.1:" + std::to_string(server_->port())}}, settings, *threads_);
    }

    // The answers of the test server, by path.
    ServedResponse serve(const ReceivedRequest& request) {
        const std::string& path = request.target;
        if (path == "/small") return {200, {}, "hello, sandbox\n"};
        if (path == "/empty") return {200, {}, ""};
        if (path == "/big") return {200, {}, "", 9 * 1024 * 1024 + 123};
        if (path == "/big-no-length") return {200, {}, "", 3 * 1024 * 1024, false};
        if (path == "/missing") return {404, {}, "no such object"};
        if (path == "/hang") return {200, {}, "", 0, true, true};
        if (path == "/redirect") return {302, {{"Location", "/small"}}, ""};
        if (path == "/redirect-loopback-elsewhere") return {302, {{"Location", "http://127.0.0.1:1/x"}}, ""};
        if (path == "/redirect-file") return {302, {{"Location", "file:///etc/passwd"}}, ""};
        if (path == "/upload" && (request.method == "PUT" || request.method == "POST")) return {200, {}, "stored"};
        if (path == "/upload-denied") return {403, {}, "<Error>AccessDenied</Error>"};
        return {404, {}, ""};
    }

    WorkspaceCall workspace() {
        return [this](protocol::Request request) -> std::variant<json, ApiError> {
            ++calls_;
            // Through the wire form and back, as the agent's file server gets it.
            auto decoded = protocol::decode_request(protocol::encode_request(request));
            json reply = agent::handle_file_request(workspace_.get(), std::get<protocol::Request>(decoded));
            if (reply.at("ok") == true) return reply;
            return file_error(reply);
        };
    }

    UrlImport import(const std::string& path, const std::string& dir = "data", const std::string& name = "file.bin") {
        auto url = std::get<ParsedUrl>(parse_transfer_url(server_->url(path), "download_url"));
        return UrlImport{{dir, name, dir + "/" + name, "/sandbox/" + dir + "/" + name}, url};
    }
    UrlExport export_of(const std::string& relative, const std::string& path = "/upload",
                        std::optional<FormFields> fields = std::nullopt) {
        auto url = std::get<ParsedUrl>(parse_transfer_url(server_->url(path), "upload_url"));
        const std::string name = fs::path(relative).filename().string();
        return UrlExport{{"/sandbox", name, relative, "/sandbox/" + relative}, url, std::move(fields)};
    }

    Result run_imports(std::vector<UrlImport> files) {
        std::promise<Result> done;
        transfers_->import_files(std::move(files), workspace(), [&](Result r) { done.set_value(std::move(r)); });
        return done.get_future().get();
    }
    Result run_exports(std::vector<UrlExport> files) {
        std::promise<Result> done;
        transfers_->export_files(std::move(files), workspace(), [&](Result r) { done.set_value(std::move(r)); });
        return done.get_future().get();
    }

    std::string read(const std::string& relative) {
        std::ifstream in(workspace_path_ / relative, std::ios::binary);
        std::stringstream out;
        out << in.rdbuf();
        return out.str();
    }
    void write(const std::string& relative, const std::string& data) {
        fs::create_directories((workspace_path_ / relative).parent_path());
        std::ofstream(workspace_path_ / relative, std::ios::binary) << data;
    }
    // Every file in the workspace, temporary ones included.
    std::vector<std::string> workspace_files() {
        std::vector<std::string> out;
        for (const auto& entry : fs::recursive_directory_iterator(workspace_path_))
            if (entry.is_regular_file()) out.push_back(fs::relative(entry.path(), workspace_path_).string());
        std::sort(out.begin(), out.end());
        return out;
    }

    static FileTransferOutcome only(const Result& result) {
        EXPECT_TRUE(std::holds_alternative<std::vector<FileTransferOutcome>>(result))
            << std::get<ApiError>(result).message;
        return std::get<std::vector<FileTransferOutcome>>(result).at(0);
    }

    fs::path workspace_path_;
    fd::UniqueFd workspace_;
    std::unique_ptr<HttpTestServer> server_;
    TransferSettings settings_{.connect_timeout = std::chrono::seconds(5), .total_timeout = std::chrono::seconds(20),
                               .max_bytes = 16 << 20};
    std::unique_ptr<TaskRunner> threads_;
    std::unique_ptr<UrlFileTransfers> transfers_;
    std::atomic<int> calls_{0};
};

TEST_F(UrlFiles, DownloadsAFileIntoTheWorkspaceByteForByte) {
    auto outcome = only(run_imports({import("/small")}));
    ASSERT_FALSE(outcome.error) << outcome.error->message;
    EXPECT_EQ(outcome.size, 15u);
    EXPECT_EQ(read("data/file.bin"), "hello, sandbox\n");
    EXPECT_EQ(workspace_files(), std::vector<std::string>{"data/file.bin"});  // no temporary file left
    EXPECT_EQ(server_->requests().at(0).method, "GET");
}

TEST_F(UrlFiles, ALargeFileMovesInPartsAndArrivesWhole) {
    auto outcome = only(run_imports({import("/big"), import("/big-no-length", "data", "second.bin")}));
    ASSERT_FALSE(outcome.error) << outcome.error->message;
    const std::size_t size = 9 * 1024 * 1024 + 123;
    EXPECT_EQ(outcome.size, size);
    EXPECT_TRUE(read("data/file.bin") == pattern_bytes(0, size));
    EXPECT_TRUE(read("data/second.bin") == pattern_bytes(0, 3 * 1024 * 1024));
    // 9 MiB in 4 MiB parts: three writes and a move, for the first file.
    EXPECT_GE(calls_.load(), 4 + 2);
    EXPECT_EQ(workspace_files(), (std::vector<std::string>{"data/file.bin", "data/second.bin"}));
}

TEST_F(UrlFiles, AnEmptyFileIsAFileToo) {
    auto outcome = only(run_imports({import("/empty", "x", "empty.txt")}));
    ASSERT_FALSE(outcome.error);
    EXPECT_EQ(outcome.size, 0u);
    EXPECT_TRUE(fs::exists(workspace_path_ / "x/empty.txt"));
}

TEST_F(UrlFiles, AFileAboveTheLimitIsRefusedAndLeavesNothing) {
    settings_.max_bytes = 1 << 20;
    make_transfers(settings_);
    write("data/file.bin", "the old content");
    for (const char* path : {"/big", "/big-no-length"}) {
        auto outcome = only(run_imports({import(path)}));
        ASSERT_TRUE(outcome.error) << path;
        EXPECT_EQ(outcome.error->reason, ErrorReason::payload_too_large) << path;
        EXPECT_THAT(outcome.error->message, HasSubstr("1048576")) << path;
    }
    EXPECT_EQ(read("data/file.bin"), "the old content");  // an earlier file of that name is untouched
    EXPECT_EQ(workspace_files(), std::vector<std::string>{"data/file.bin"});
}

TEST_F(UrlFiles, RemoteErrorsAreTransferFailuresWithTheStatus) {
    auto outcome = only(run_imports({import("/missing")}));
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->reason, ErrorReason::transfer_failed);
    EXPECT_THAT(outcome.error->message, HasSubstr("HTTP 404"));
    EXPECT_TRUE(workspace_files().empty());
}

TEST_F(UrlFiles, ARemoteThatHangsTimesOut) {
    settings_.total_timeout = std::chrono::milliseconds(1500);
    make_transfers(settings_);
    const auto start = std::chrono::steady_clock::now();
    auto outcome = only(run_imports({import("/hang")}));
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->reason, ErrorReason::transfer_timeout);
    EXPECT_THAT(outcome.error->message, HasSubstr("files.url_timeout"));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    EXPECT_TRUE(workspace_files().empty());
}

TEST_F(UrlFiles, RedirectsAreFollowedOnlyWhereThePolicyAllows) {
    EXPECT_FALSE(only(run_imports({import("/redirect")})).error);
    EXPECT_EQ(read("data/file.bin"), "hello, sandbox\n");

    auto outcome = only(run_imports({import("/redirect-loopback-elsewhere", "r", "a")}));
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->reason, ErrorReason::url_refused);
    EXPECT_THAT(outcome.error->message, HasSubstr("127.0.0.1:1"));
    EXPECT_THAT(outcome.error->message, HasSubstr("loopback"));
    outcome = only(run_imports({import("/redirect-file", "r", "b")}));
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->reason, ErrorReason::url_refused);
    EXPECT_FALSE(fs::exists(workspace_path_ / "r/a"));
    EXPECT_FALSE(fs::exists(workspace_path_ / "r/b"));
}

TEST_F(UrlFiles, ARefusedHostFailsTheRequestBeforeAnyFileMoves) {
    auto elsewhere = std::get<ParsedUrl>(parse_transfer_url("http://127.0.0.1:1/x", "download_url"));
    auto result = run_imports({import("/small"), UrlImport{{"d", "f", "d/f", "/sandbox/d/f"}, elsewhere}});
    ASSERT_TRUE(std::holds_alternative<ApiError>(result));
    EXPECT_EQ(std::get<ApiError>(result).reason, ErrorReason::url_refused);
    EXPECT_THAT(std::get<ApiError>(result).message, HasSubstr("files[1]"));
    EXPECT_TRUE(server_->requests().empty());
    EXPECT_TRUE(workspace_files().empty());
}

TEST_F(UrlFiles, ExportsPutTheFileByteForByte) {
    const std::string data = pattern_bytes(7, 5 * 1024 * 1024 + 17);
    write("out/result.bin", data);
    auto outcome = only(run_exports({export_of("out/result.bin")}));
    ASSERT_FALSE(outcome.error) << outcome.error->message;
    EXPECT_EQ(outcome.size, data.size());
    const auto received = server_->requests().at(0);
    EXPECT_EQ(received.method, "PUT");
    EXPECT_EQ(received.headers.at("content-type"), "application/octet-stream");
    EXPECT_EQ(received.headers.at("content-length"), std::to_string(data.size()));
    EXPECT_TRUE(received.body == data);
}

TEST_F(UrlFiles, ExportsPostAPresignedFormWithTheFieldsThenTheFile) {
    const std::string data = pattern_bytes(0, 300000);
    write("plot.png", data);
    FormFields fields = {{"key", "uploads/plot.png"}, {"policy", "eyJ4Ijox"}, {"x-amz-signature", "abc123"}};
    auto outcome = only(run_exports({export_of("plot.png", "/upload", fields)}));
    ASSERT_FALSE(outcome.error) << outcome.error->message;
    const auto received = server_->requests().at(0);
    EXPECT_EQ(received.method, "POST");
    const std::string& type = received.headers.at("content-type");
    ASSERT_EQ(type.rfind("multipart/form-data; boundary=", 0), 0u) << type;
    auto parts = parse_multipart(received.body, type.substr(type.find('=') + 1));
    ASSERT_TRUE(std::holds_alternative<std::vector<FormPart>>(parts));
    const auto& list = std::get<std::vector<FormPart>>(parts);
    ASSERT_EQ(list.size(), 4u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(list[i].name, fields[i].first);
        EXPECT_EQ(list[i].data, fields[i].second);
    }
    EXPECT_EQ(list[3].name, "file");  // last, as object stores require
    EXPECT_EQ(list[3].filename, "plot.png");
    EXPECT_TRUE(list[3].data == data);
}

TEST_F(UrlFiles, ExportFailuresSayWhy) {
    auto outcome = only(run_exports({export_of("nothing-here.txt")}));
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->reason, ErrorReason::not_found);
    EXPECT_TRUE(server_->requests().empty());

    write("a.txt", "a");
    outcome = only(run_exports({export_of("a.txt", "/upload-denied")}));
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->reason, ErrorReason::transfer_failed);
    EXPECT_THAT(outcome.error->message, HasSubstr("HTTP 403"));

    outcome = only(run_exports({export_of("a.txt", "/redirect")}));
    ASSERT_TRUE(outcome.error);
    EXPECT_THAT(outcome.error->message, HasSubstr("do not follow"));

    settings_.max_bytes = 10;
    make_transfers(settings_);
    write("b.txt", std::string(11, 'b'));
    outcome = only(run_exports({export_of("b.txt")}));
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->reason, ErrorReason::payload_too_large);
}

TEST_F(UrlFiles, CancelledTransfersStopAndNewOnesAreRefused) {
    settings_.total_timeout = std::chrono::seconds(60);
    make_transfers(settings_);
    std::promise<Result> done;
    transfers_->import_files({import("/hang")}, workspace(), [&](Result r) { done.set_value(std::move(r)); });
    while (server_->requests().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto start = std::chrono::steady_clock::now();
    transfers_->cancel();
    auto outcome = only(done.get_future().get());
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->reason, ErrorReason::shutting_down);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    auto refused = run_imports({import("/small")});
    ASSERT_TRUE(std::holds_alternative<ApiError>(refused));
    EXPECT_EQ(std::get<ApiError>(refused).reason, ErrorReason::shutting_down);
}

}  // namespace
}  // namespace ci
