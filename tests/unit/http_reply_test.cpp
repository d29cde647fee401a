// Answering helpers that need no server.
#include <gtest/gtest.h>

#include "http_reply.hpp"

namespace ci {
namespace {

TEST(HttpReply, DownloadsAreNamedAfterTheLastComponent) {
    EXPECT_EQ(attachment_disposition("out/plot.png"), "attachment; filename=\"plot.png\"; filename*=UTF-8''plot.png");
    EXPECT_EQ(attachment_disposition("r\xc3\xa9sum\xc3\xa9 \"1\".txt"),
              "attachment; filename=\"r__sum__ _1_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.txt");
    EXPECT_EQ(attachment_disposition("."), "attachment; filename=\"download\"; filename*=UTF-8''download");
}

}  // namespace
}  // namespace ci
