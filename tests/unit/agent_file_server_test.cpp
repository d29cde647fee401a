// The agent's link to its file server: the frames, the non-blocking channel, and serve_files
// answering over a socketpair (in a thread here; a process of the kernel user in a worker).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "code_interpreter/agent/file_server.hpp"
#include "code_interpreter/agent/file_server_channel.hpp"
#include "code_interpreter/agent/frames.hpp"
#include "code_interpreter/protocol/base64.hpp"

namespace ci::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::pair<UniqueFd, UniqueFd> socket_pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Exchanges until count replies have arrived or the channel disconnected (at most 30 s).
std::vector<std::string> wait_for_replies(FileServerChannel& channel, std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::vector<std::string> replies;
    while (replies.size() < count && channel.connected() && std::chrono::steady_clock::now() < deadline) {
        pollfd item{channel.fd(), static_cast<short>(POLLIN | (channel.wants_write() ? POLLOUT : 0)), 0};
        ::poll(&item, 1, 100);
        for (auto& reply : channel.exchange()) replies.push_back(std::move(reply));
    }
    return replies;
}

TEST(AgentFileFrames, SplitsAStreamFedOneByteAtATime) {
    const std::string stream = *encode_frame({{"a", 1}}) + *encode_frame(json::object()) +
                               *encode_frame({{"b", std::string(300, 'x')}});
    FrameReader reader;
    std::vector<std::string> texts;
    for (char byte : stream) {
        reader.append(std::string_view(&byte, 1));
        while (auto text = reader.next()) texts.push_back(*text);
    }
    ASSERT_EQ(texts.size(), 3u);
    EXPECT_EQ(json::parse(texts[0]), json({{"a", 1}}));
    EXPECT_EQ(texts[1], "{}");
    EXPECT_EQ(json::parse(texts[2]).at("b").get<std::string>().size(), 300u);
    EXPECT_FALSE(reader.failed());
}

TEST(AgentFileFrames, HeaderIsTheBigEndianLengthOfTheText) {
    const std::string frame = *encode_frame({{"k", "v"}});
    EXPECT_EQ(frame.substr(0, 4), std::string("\0\0\0\x09", 4));
    EXPECT_EQ(frame.substr(4), R"({"k":"v"})");
}

TEST(AgentFileFrames, AnOversizedFrameFailsTheStreamAndIsNeverEncoded) {
    FrameReader reader;
    reader.append(std::string("\x7f\xff\xff\xff{}", 6));
    EXPECT_EQ(reader.next(), std::nullopt);
    EXPECT_TRUE(reader.failed());
    EXPECT_EQ(encode_frame({{"data", std::string(kMaxFrameBytes, 'x')}}), std::nullopt);
}

class AgentFileServer : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "ci-agent-server.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        workspace_ = UniqueFd(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        auto [agent_end, server_end] = socket_pair();
        server_end_ = std::move(server_end);
        channel_.emplace(std::move(agent_end));
        server_ = std::thread([this] { serve_files(server_end_.get(), workspace_.get()); });
    }
    void TearDown() override {
        channel_.reset();  // closes the agent's end: serve_files returns
        server_.join();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    fs::path dir_;
    UniqueFd workspace_;
    UniqueFd server_end_;
    std::optional<FileServerChannel> channel_;
    std::thread server_;
};

TEST_F(AgentFileServer, AnswersRequestsInOrder) {
    const std::string big(1 << 20, 'z');  // more than a socket buffer: the channel must queue it
    channel_->send(*encode_frame({{"op", "file_write"}, {"path", "big"},
                                  {"data_base64", protocol::base64_encode(big)}}));
    channel_->send(*encode_frame({{"op", "file_read"}, {"path", "big"}}));
    channel_->send(*encode_frame({{"op", "file_list"}}));
    channel_->send(*encode_frame({{"op", "file_delete"}, {"path", "big"}}));
    auto replies = wait_for_replies(*channel_, 4);
    ASSERT_EQ(replies.size(), 4u);
    EXPECT_EQ(json::parse(replies[0]).at("file").at("size"), big.size());
    EXPECT_EQ(protocol::base64_decode(json::parse(replies[1]).at("data_base64").get<std::string>()), big);
    EXPECT_EQ(json::parse(replies[2]).at("entries").at(0).at("name"), "big");
    EXPECT_EQ(json::parse(replies[3]), json({{"ok", true}}));
    EXPECT_FALSE(fs::exists(dir_ / "big"));
    EXPECT_TRUE(channel_->connected());
}

TEST_F(AgentFileServer, AnswersTextThatIsNotAnObjectWithAnInvalidRequest) {
    const std::string text = "[1,2]";
    std::string frame = *encode_frame(json::object());
    frame = frame.substr(0, 3) + static_cast<char>(text.size()) + text;
    channel_->send(frame);
    auto replies = wait_for_replies(*channel_, 1);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(json::parse(replies[0]).at("error_kind"), "invalid_request");
}

TEST(AgentFileChannel, DisconnectsWhenTheServerCloses) {
    auto [agent_end, server_end] = socket_pair();
    FileServerChannel channel(std::move(agent_end));
    ASSERT_TRUE(channel.connected());
    server_end.reset();
    EXPECT_TRUE(wait_for_replies(channel, 1).empty());
    EXPECT_FALSE(channel.connected());
    EXPECT_EQ(channel.disconnect_reason(), "it closed its socket");
    channel.send(*encode_frame(json::object()));  // ignored, and no SIGPIPE
    EXPECT_FALSE(channel.connected());
}

TEST(AgentFileChannel, DisconnectsOnAnOversizedFrameAfterTheRepliesBeforeIt) {
    auto [agent_end, server_end] = socket_pair();
    FileServerChannel channel(std::move(agent_end));
    const std::string bytes = *encode_frame({{"ok", true}}) + std::string("\xff\xff\xff\xff", 4);
    ASSERT_EQ(::write(server_end.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    auto replies = wait_for_replies(channel, 2);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0], R"({"ok":true})");
    EXPECT_FALSE(channel.connected());
    EXPECT_NE(channel.disconnect_reason().find("larger than"), std::string::npos);
}

TEST(AgentFileChannel, AnInvalidSocketIsADisconnectedChannel) {
    FileServerChannel channel{UniqueFd()};
    EXPECT_FALSE(channel.connected());
    EXPECT_FALSE(channel.disconnect_reason().empty());
}

}  // namespace
}  // namespace ci::agent
