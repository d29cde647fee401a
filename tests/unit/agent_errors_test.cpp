#include <gtest/gtest.h>

#include "file_transfer.hpp"

namespace ci {
namespace {

ApiError refused(const std::string& kind) {
    return file_error({{"ok", false}, {"error", "it failed"}, {"error_kind", kind}});
}

TEST(FileTransfer, AgentRefusalsMapToStatuses) {
    EXPECT_EQ(http_status(refused("invalid_path").reason), 400);
    EXPECT_EQ(http_status(refused("not_found").reason), 404);
    for (const char* kind : {"exists", "is_a_directory", "not_a_directory", "not_empty"})
        EXPECT_EQ(http_status(refused(kind).reason), 409) << kind;
    EXPECT_EQ(http_status(refused("too_large").reason), 413);
    EXPECT_EQ(http_status(refused("no_space").reason), 507);
    EXPECT_EQ(http_status(refused("io").reason), 500);
    EXPECT_EQ(refused("invalid_path").message, "it failed");
    EXPECT_STREQ(reason_code(refused("exists").reason), "file_exists");
}

TEST(FileTransfer, ARefusedGatewayRequestIsAnInternalError) {
    ApiError error = refused("invalid_request");
    EXPECT_EQ(error.reason, ErrorReason::internal);
    EXPECT_EQ(error.message, "the worker refused the gateway's file request (invalid_request): it failed");
    EXPECT_EQ(file_error({{"ok", false}}).reason, ErrorReason::internal);
}

TEST(FileTransfer, DownloadsAreNamedAfterTheLastComponent) {
    EXPECT_EQ(attachment_disposition("out/plot.png"), "attachment; filename=\"plot.png\"; filename*=UTF-8''plot.png");
    EXPECT_EQ(attachment_disposition("r\xc3\xa9sum\xc3\xa9 \"1\".txt"),
              "attachment; filename=\"r__sum__ _1_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.txt");
    EXPECT_EQ(attachment_disposition("."), "attachment; filename=\"download\"; filename*=UTF-8''download");
}

}  // namespace
}  // namespace ci
