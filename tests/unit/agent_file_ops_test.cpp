// The workspace file operations against a temporary directory, as the current user, including
// attempts to escape the workspace through symbolic links.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "code_interpreter/agent/workspace_files.hpp"
#include "code_interpreter/fd/unique_fd.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/base64.hpp"

namespace ci::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using protocol::base64_decode;
using protocol::base64_encode;

// <tmp>/workspace is the workspace; <tmp>/outside/secret is what an escape would reach.
class AgentFileOps : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "ci-agent-files.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        base_ = tmpl;
        workspace_path_ = base_ / "workspace";
        fs::create_directory(workspace_path_);
        fs::create_directory(base_ / "outside");
        write_text(base_ / "outside" / "secret", "secret");
        workspace_ = ci::fd::UniqueFd(::open(workspace_path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(workspace_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    static void write_text(const fs::path& path, const std::string& text) {
        std::ofstream(path, std::ios::binary) << text;
    }
    static std::string read_text(const fs::path& path) {
        std::ifstream in(path, std::ios::binary);
        std::stringstream out;
        out << in.rdbuf();
        return out.str();
    }

    // As the file server answers a request: decoded strictly, then done.
    json run(json request) {
        auto decoded = protocol::decode_request(request);
        if (auto* error = std::get_if<std::string>(&decoded)) return file_failure("invalid_request", *error);
        return handle_file_request(workspace_.get(), std::get<protocol::Request>(decoded));
    }
    json write(const std::string& path, const std::string& data, json extra = json::object()) {
        json request = {{"op", "file_write"}, {"path", path}, {"data_base64", base64_encode(data)}};
        request.update(extra);
        return run(request);
    }
    json read(const std::string& path) { return run({{"op", "file_read"}, {"path", path}}); }

    // The error kind of a failed reply ("" when it succeeded), checking the failure's shape.
    static std::string kind(const json& reply) {
        if (reply.at("ok") == true) return "";
        EXPECT_FALSE(reply.at("error").get<std::string>().empty()) << reply;
        return reply.at("error_kind").get<std::string>();
    }

    void expect_outside_intact() {
        EXPECT_EQ(read_text(base_ / "outside" / "secret"), "secret");
        EXPECT_EQ(std::distance(fs::directory_iterator(base_ / "outside"), fs::directory_iterator{}), 1);
    }

    fs::path base_;
    fs::path workspace_path_;
    ci::fd::UniqueFd workspace_;
};

TEST_F(AgentFileOps, WritesAFileThatReadsBackWithMode0644) {
    const std::string data("bin\0ary\xff", 8);
    json reply = write("notes/today/data.bin", data);
    ASSERT_EQ(kind(reply), "") << reply;
    EXPECT_EQ(reply.at("file"), json({{"path", "notes/today/data.bin"}, {"size", 8}}));
    EXPECT_EQ(read_text(workspace_path_ / "notes/today/data.bin"), data);
    struct stat st {};
    ASSERT_EQ(::stat((workspace_path_ / "notes/today/data.bin").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(st.st_uid, ::getuid());

    reply = read("notes/today/data.bin");
    ASSERT_EQ(kind(reply), "") << reply;
    EXPECT_EQ(reply.at("file").at("size"), 8);
    EXPECT_EQ(base64_decode(reply.at("data_base64").get<std::string>()), data);
    // No temporary file is left beside it.
    EXPECT_EQ(std::distance(fs::directory_iterator(workspace_path_ / "notes/today"), fs::directory_iterator{}), 1);
}

TEST_F(AgentFileOps, WriteWithoutMakeParentsNeedsTheDirectory) {
    EXPECT_EQ(kind(write("missing/a.txt", "x", {{"make_parents", false}})), "not_found");
    EXPECT_FALSE(fs::exists(workspace_path_ / "missing"));
    EXPECT_EQ(kind(write("a.txt", "x", {{"make_parents", false}})), "");
}

TEST_F(AgentFileOps, OverwriteReplacesUnlessRefused) {
    ASSERT_EQ(kind(write("a.txt", "one")), "");
    EXPECT_EQ(kind(write("a.txt", "two")), "");
    EXPECT_EQ(read_text(workspace_path_ / "a.txt"), "two");
    EXPECT_EQ(kind(write("a.txt", "three", {{"overwrite", false}})), "exists");
    EXPECT_EQ(read_text(workspace_path_ / "a.txt"), "two");
    EXPECT_EQ(std::distance(fs::directory_iterator(workspace_path_), fs::directory_iterator{}), 1);
}

TEST_F(AgentFileOps, WriteRefusesDirectoriesAndFilesInTheWay) {
    fs::create_directory(workspace_path_ / "dir");
    EXPECT_EQ(kind(write("dir", "x")), "is_a_directory");
    EXPECT_EQ(kind(write(".", "x")), "invalid_path");
    write_text(workspace_path_ / "file", "f");
    EXPECT_EQ(kind(write("file/child", "x")), "not_a_directory");
    EXPECT_EQ(kind(write("file/child", "x", {{"make_parents", false}})), "not_a_directory");
}

TEST_F(AgentFileOps, MalformedRequestsAreInvalidRequests) {
    EXPECT_EQ(kind(run({{"op", "file_write"}, {"path", "a"}, {"data_base64", "not base64!"}})), "invalid_request");
    EXPECT_EQ(kind(run({{"op", "file_write"}, {"path", "a"}})), "invalid_request");
    EXPECT_EQ(kind(write("a", "x", {{"overwrite", "yes"}})), "invalid_request");
    EXPECT_EQ(kind(run({{"op", "file_read"}, {"path", 7}})), "invalid_request");
    EXPECT_EQ(kind(run({{"op", "file_read"}, {"path", "a"}, {"max_bytes", -1}})), "invalid_request");
    EXPECT_EQ(kind(run({{"op", "file_chmod"}, {"path", "a"}})), "invalid_request");
    EXPECT_FALSE(fs::exists(workspace_path_ / "a"));
}

TEST_F(AgentFileOps, ReadRefusesFilesAboveMaxBytesSayingBothSizes) {
    write_text(workspace_path_ / "big", std::string(100, 'x'));
    json reply = run({{"op", "file_read"}, {"path", "big"}, {"max_bytes", 99}});
    ASSERT_EQ(kind(reply), "too_large");
    EXPECT_NE(reply.at("error").get<std::string>().find("100 bytes"), std::string::npos) << reply;
    EXPECT_NE(reply.at("error").get<std::string>().find("99 bytes"), std::string::npos) << reply;
    EXPECT_EQ(kind(run({{"op", "file_read"}, {"path", "big"}, {"max_bytes", 100}})), "");
}

TEST_F(AgentFileOps, ReadReportsMissingDirectoriesAndSpecialFiles) {
    EXPECT_EQ(kind(read("nothing")), "not_found");
    fs::create_directory(workspace_path_ / "dir");
    EXPECT_EQ(kind(read("dir")), "is_a_directory");
    ASSERT_EQ(::mkfifo((workspace_path_ / "fifo").c_str(), 0600), 0);
    EXPECT_EQ(kind(read("fifo")), "invalid_path");  // and does not wait for a writer
    EXPECT_EQ(read("fifo").at("error"), "\"fifo\" is not a regular file");
}

TEST_F(AgentFileOps, ListsEntriesSortedByNameWithTypesSizesAndTimes) {
    write_text(workspace_path_ / "b.txt", "12345");
    fs::create_directory(workspace_path_ / "a_dir");
    fs::create_symlink("b.txt", workspace_path_ / "c_link");
    ASSERT_EQ(::mkfifo((workspace_path_ / "d_fifo").c_str(), 0600), 0);
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();

    json reply = run({{"op", "file_list"}});
    ASSERT_EQ(kind(reply), "") << reply;
    EXPECT_EQ(reply.at("path"), ".");
    const json& entries = reply.at("entries");
    ASSERT_EQ(entries.size(), 4u);
    const std::pair<const char*, const char*> expected[] = {
        {"a_dir", "directory"}, {"b.txt", "file"}, {"c_link", "symlink"}, {"d_fifo", "other"}};
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(entries[i].at("name"), expected[i].first);
        EXPECT_EQ(entries[i].at("type"), expected[i].second);
        EXPECT_NEAR(entries[i].at("modified_unix_ms").get<double>(), static_cast<double>(now_ms), 60000);
    }
    EXPECT_EQ(entries[0].at("size"), 0);
    EXPECT_EQ(entries[1].at("size"), 5);
    EXPECT_EQ(entries[2].at("size"), 0);

    write_text(workspace_path_ / "a_dir" / "inner", "");
    reply = run({{"op", "file_list"}, {"path", "a_dir"}});
    ASSERT_EQ(kind(reply), "");
    EXPECT_EQ(reply.at("path"), "a_dir");
    ASSERT_EQ(reply.at("entries").size(), 1u);
    EXPECT_EQ(run({{"op", "file_list"}, {"path", "b.txt"}}).at("error_kind"), "not_a_directory");
    EXPECT_EQ(run({{"op", "file_list"}, {"path", "none"}}).at("error_kind"), "not_found");
}

TEST_F(AgentFileOps, DeletesFilesAndDirectoriesOnlyWithRecursive) {
    write_text(workspace_path_ / "f", "x");
    EXPECT_EQ(run({{"op", "file_delete"}, {"path", "f"}}), json({{"ok", true}}));
    EXPECT_FALSE(fs::exists(workspace_path_ / "f"));
    EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", "f"}})), "not_found");

    fs::create_directories(workspace_path_ / "tree/a/b/c");
    write_text(workspace_path_ / "tree/a/b/c/leaf", "x");
    write_text(workspace_path_ / "tree/top", "x");
    EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", "tree"}})), "is_a_directory");
    EXPECT_TRUE(fs::exists(workspace_path_ / "tree/top"));
    EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", "tree"}, {"recursive", true}})), "");
    EXPECT_FALSE(fs::exists(workspace_path_ / "tree"));
}

TEST_F(AgentFileOps, TheWorkspaceItselfCannotBeDeleted) {
    write_text(workspace_path_ / "keep", "x");
    for (const char* root : {".", "./", "a/.."}) {
        EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", root}, {"recursive", true}})), "invalid_path") << root;
    }
    EXPECT_TRUE(fs::exists(workspace_path_ / "keep"));
}

TEST_F(AgentFileOps, RefusesAbsoluteDotDotNulAndEmptyPathsEverywhere) {
    for (const std::string& bad : {std::string("/etc/passwd"), std::string("../outside/secret"),
                                   std::string("a/../../outside/secret"), std::string("a\0b", 3),
                                   std::string("")}) {
        EXPECT_EQ(kind(read(bad)), "invalid_path") << bad;
        EXPECT_EQ(kind(write(bad, "x")), "invalid_path") << bad;
        EXPECT_EQ(kind(run({{"op", "file_list"}, {"path", bad}})), "invalid_path") << bad;
        EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", bad}, {"recursive", true}})), "invalid_path") << bad;
    }
    expect_outside_intact();
}

TEST_F(AgentFileOps, ASymlinkToTheRootIsNeverFollowed) {
    fs::create_directory_symlink("/", workspace_path_ / "root");
    EXPECT_EQ(kind(read("root/etc/passwd")), "invalid_path");
    EXPECT_EQ(kind(run({{"op", "file_list"}, {"path", "root"}})), "invalid_path");
    EXPECT_EQ(kind(run({{"op", "file_list"}, {"path", "root/tmp"}})), "invalid_path");
    // Through the link, this would land in base_ (which TearDown removes even then).
    const fs::path escaped = base_ / "escaped";
    EXPECT_EQ(kind(write("root" + escaped.string(), "x")), "invalid_path");
    EXPECT_FALSE(fs::exists(escaped));
    // Deleting the link removes the link, nothing behind it.
    EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", "root"}})), "");
    EXPECT_FALSE(fs::is_symlink(workspace_path_ / "root"));
    EXPECT_TRUE(fs::exists("/etc/passwd"));
}

TEST_F(AgentFileOps, ASymlinkToTheParentIsNeverFollowed) {
    fs::create_directory_symlink("..", workspace_path_ / "up");
    EXPECT_EQ(kind(read("up/outside/secret")), "invalid_path");
    EXPECT_EQ(kind(write("up/outside/secret", "pwned")), "invalid_path");
    EXPECT_EQ(kind(write("up/outside/new", "pwned")), "invalid_path");
    EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", "up/outside/secret"}})), "invalid_path");
    EXPECT_EQ(kind(run({{"op", "file_list"}, {"path", "up/outside"}})), "invalid_path");
    expect_outside_intact();
}

TEST_F(AgentFileOps, ASymlinkedIntermediateDirectoryIsNeverFollowedEvenInside) {
    fs::create_directory(workspace_path_ / "real");
    write_text(workspace_path_ / "real" / "f", "inside");
    fs::create_directory_symlink("real", workspace_path_ / "alias");
    EXPECT_EQ(kind(read("alias/f")), "invalid_path");
    EXPECT_EQ(kind(write("alias/g", "x")), "invalid_path");
    EXPECT_EQ(kind(write("alias/g", "x", {{"make_parents", false}})), "invalid_path");
    EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", "alias/f"}})), "invalid_path");
    EXPECT_FALSE(fs::exists(workspace_path_ / "real" / "g"));
    EXPECT_TRUE(fs::exists(workspace_path_ / "real" / "f"));
}

TEST_F(AgentFileOps, AFinalSymlinkIsNotReadAndIsReplacedNotWrittenThrough) {
    fs::create_symlink(base_ / "outside" / "secret", workspace_path_ / "link");
    EXPECT_EQ(kind(read("link")), "invalid_path");
    EXPECT_EQ(kind(write("link", "x", {{"overwrite", false}})), "exists");
    EXPECT_EQ(kind(write("link", "replaced")), "");
    EXPECT_FALSE(fs::is_symlink(workspace_path_ / "link"));
    EXPECT_EQ(read_text(workspace_path_ / "link"), "replaced");
    expect_outside_intact();
}

TEST_F(AgentFileOps, RecursiveDeleteRemovesLinksWithoutEnteringThem) {
    fs::create_directories(workspace_path_ / "tree/sub");
    fs::create_directory_symlink(base_ / "outside", workspace_path_ / "tree" / "out");
    fs::create_directory_symlink(base_ / "outside", workspace_path_ / "tree" / "sub" / "out");
    fs::create_symlink(base_ / "outside" / "secret", workspace_path_ / "tree" / "secret");
    EXPECT_EQ(kind(run({{"op", "file_delete"}, {"path", "tree"}, {"recursive", true}})), "");
    EXPECT_FALSE(fs::exists(workspace_path_ / "tree"));
    expect_outside_intact();
}

TEST_F(AgentFileOps, AppendAddsPartsToAnExistingFileOnly) {
    EXPECT_EQ(kind(write("parts.bin", "one", {{"append", true}})), "not_found");
    ASSERT_EQ(kind(write("parts.bin", "one")), "");
    json reply = write("parts.bin", std::string("tw\0", 3), {{"append", true}});
    ASSERT_EQ(kind(reply), "") << reply;
    EXPECT_EQ(reply.at("file").at("size"), 6);
    EXPECT_EQ(read_text(workspace_path_ / "parts.bin"), std::string("onetw\0", 6));
    fs::create_directory(workspace_path_ / "dir");
    EXPECT_EQ(kind(write("dir", "x", {{"append", true}})), "is_a_directory");
    ASSERT_EQ(::mkfifo((workspace_path_ / "fifo").c_str(), 0600), 0);
    EXPECT_EQ(kind(write("fifo", "x", {{"append", true}})), "invalid_path");
    // A final link is refused, not appended through.
    fs::create_symlink(base_ / "outside" / "secret", workspace_path_ / "link");
    EXPECT_EQ(kind(write("link", "pwned", {{"append", true}})), "invalid_path");
    EXPECT_EQ(kind(write("link", "x", {{"append", "yes"}})), "invalid_request");
    expect_outside_intact();
}

TEST_F(AgentFileOps, ReadsAFileInPartsWithItsWholeSize) {
    write_text(workspace_path_ / "ten", "0123456789");
    auto part = [&](json extra) {
        json request = {{"op", "file_read"}, {"path", "ten"}};
        request.update(extra);
        return run(request);
    };
    json reply = part({{"offset", 3}, {"length", 4}});
    ASSERT_EQ(kind(reply), "") << reply;
    EXPECT_EQ(reply.at("file").at("size"), 10);
    EXPECT_EQ(reply.at("offset"), 3);
    EXPECT_EQ(base64_decode(reply.at("data_base64").get<std::string>()), "3456");
    EXPECT_EQ(base64_decode(part({{"offset", 8}, {"length", 4}}).at("data_base64").get<std::string>()), "89");
    EXPECT_EQ(base64_decode(part({{"offset", 10}}).at("data_base64").get<std::string>()), "");
    EXPECT_EQ(base64_decode(part({{"offset", 99}}).at("data_base64").get<std::string>()), "");
    EXPECT_EQ(kind(part({{"offset", 0}, {"max_bytes", 9}})), "too_large");
    EXPECT_EQ(kind(part({{"offset", 0}, {"length", protocol::kMaxFileBytes + 1}})), "invalid_request");
    EXPECT_EQ(kind(part({{"offset", -1}})), "invalid_request");
    fs::create_symlink(base_ / "outside" / "secret", workspace_path_ / "link");
    EXPECT_EQ(kind(run({{"op", "file_read"}, {"path", "link"}, {"offset", 0}})), "invalid_path");
}

TEST_F(AgentFileOps, MovesFilesIntoPlaceNeverThroughLinks) {
    write_text(workspace_path_ / "part", "data");
    json move = {{"op", "file_move"}, {"from", "part"}, {"to", "new/dir/final.txt"}};
    ASSERT_EQ(kind(run(move)), "");
    EXPECT_FALSE(fs::exists(workspace_path_ / "part"));
    EXPECT_EQ(read_text(workspace_path_ / "new/dir/final.txt"), "data");
    EXPECT_EQ(kind(run(move)), "not_found");

    write_text(workspace_path_ / "other", "other");
    EXPECT_EQ(kind(run({{"op", "file_move"}, {"from", "other"}, {"to", "new/dir/final.txt"}, {"overwrite", false}})),
              "exists");
    EXPECT_EQ(kind(run({{"op", "file_move"}, {"from", "other"}, {"to", "new/dir"}})), "is_a_directory");
    EXPECT_EQ(kind(run({{"op", "file_move"}, {"from", "other"}, {"to", "new/dir/final.txt"}})), "");
    EXPECT_EQ(read_text(workspace_path_ / "new/dir/final.txt"), "other");

    write_text(workspace_path_ / "x", "x");
    fs::create_directory_symlink(base_ / "outside", workspace_path_ / "out");
    EXPECT_EQ(kind(run({{"op", "file_move"}, {"from", "x"}, {"to", "out/secret"}})), "invalid_path");
    EXPECT_EQ(kind(run({{"op", "file_move"}, {"from", "out/secret"}, {"to", "stolen"}})), "invalid_path");
    EXPECT_EQ(kind(run({{"op", "file_move"}, {"from", "x"}, {"to", "../escaped"}})), "invalid_path");
    EXPECT_EQ(kind(run({{"op", "file_move"}, {"from", "x"}, {"to", "."}})), "invalid_path");
    EXPECT_FALSE(fs::exists(workspace_path_ / "stolen"));
    EXPECT_FALSE(fs::exists(base_ / "escaped"));
    expect_outside_intact();
}

TEST_F(AgentFileOps, AWorkspaceRootMovedAwayDoesNotLeadOutside) {
    // The fd stays on the workspace even if its path now names something else.
    fs::rename(workspace_path_, base_ / "moved");
    fs::create_directory_symlink(base_ / "outside", workspace_path_);
    EXPECT_EQ(kind(read("secret")), "not_found");
    EXPECT_EQ(kind(write("new", "x")), "");
    EXPECT_TRUE(fs::exists(base_ / "moved" / "new"));
    fs::remove(workspace_path_);
    expect_outside_intact();
}

}  // namespace
}  // namespace ci::agent
