#include <gtest/gtest.h>

#include "sse_stream.hpp"

namespace ci {
namespace {

TEST(SseFraming, AnEventIsNameDataLinesAndABlankLine) {
    EXPECT_EQ(sse_event("stdout", R"({"text":"hi\n"})"), "event: stdout\ndata: {\"text\":\"hi\\n\"}\n\n");
    EXPECT_EQ(sse_event("x", "a\nb"), "event: x\ndata: a\ndata: b\n\n");
    EXPECT_EQ(sse_event("x", ""), "event: x\ndata: \n\n");
}

TEST(SseFraming, ChunksCarryTheirHexSize) {
    EXPECT_EQ(http_chunk("hello"), "5\r\nhello\r\n");
    EXPECT_EQ(http_chunk(std::string(26, 'z')), "1a\r\n" + std::string(26, 'z') + "\r\n");
    EXPECT_EQ(kLastChunk, "0\r\n\r\n");
}

TEST(SseFraming, TheHeadAnnouncesAnUncachedChunkedEventStream) {
    std::string head = sse_head(true);
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos);
    EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
    EXPECT_NE(head.find("Cache-Control: no-cache\r\n"), std::string::npos);
    EXPECT_NE(head.find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
    EXPECT_NE(sse_head(false).find("Connection: close\r\n"), std::string::npos);
}

}  // namespace
}  // namespace ci
