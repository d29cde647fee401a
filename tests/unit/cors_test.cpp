// Which origins get CORS headers, and what a preflight may be told, without a server.
#include <gtest/gtest.h>

#include "cors.hpp"
#include "http_reply.hpp"

namespace ci {
namespace {

TEST(Cors, NoOriginIsAllowedByDefault) {
    EXPECT_FALSE(cors_allow_origin({}, "https://app.example.com"));
}

TEST(Cors, ListedOriginsAreEchoedAndAStarAllowsEveryOne) {
    const std::vector<std::string> listed = {"https://app.example.com", "http://localhost:5173"};
    EXPECT_EQ(cors_allow_origin(listed, "https://app.example.com"), "https://app.example.com");
    EXPECT_EQ(cors_allow_origin(listed, "HTTPS://APP.EXAMPLE.COM"), "HTTPS://APP.EXAMPLE.COM");
    EXPECT_EQ(cors_allow_origin(listed, "http://localhost:5173"), "http://localhost:5173");
    EXPECT_FALSE(cors_allow_origin(listed, "https://app.example.com.evil.net"));
    EXPECT_FALSE(cors_allow_origin(listed, "http://app.example.com"));
    EXPECT_FALSE(cors_allow_origin(listed, "null"));
    EXPECT_EQ(cors_allow_origin({"*"}, "null"), "*");  // a page opened from disk, as the original allows
    EXPECT_FALSE(cors_allow_origin({"*"}, ""));
}

TEST(Cors, APreflightGetsTheHeadersItAsksForWhenTheyAreHeaderNames) {
    EXPECT_EQ(cors_allow_headers("x-auth-token, content-type"), "x-auth-token, content-type");
    EXPECT_EQ(cors_allow_headers(std::nullopt), "X-Auth-Token, Authorization, Content-Type");
    EXPECT_EQ(cors_allow_headers("x\r\nSet-Cookie: a=b"), "X-Auth-Token, Authorization, Content-Type");
    EXPECT_EQ(cors_allow_headers(std::string(2000, 'a')), "X-Auth-Token, Authorization, Content-Type");
}

TEST(Dialect, TheOriginalsRoutesAnswerValidationFailuresWith422) {
    for (auto reason : {ErrorReason::bad_request, ErrorReason::invalid_path}) {
        EXPECT_EQ(in_terms_of(Dialect::original, {reason, "x"}).reason, ErrorReason::validation_failed);
        EXPECT_EQ(in_terms_of(Dialect::ours, {reason, "x"}).reason, reason);
    }
    EXPECT_EQ(http_status(ErrorReason::validation_failed), 422);
    for (auto reason : {ErrorReason::payload_too_large, ErrorReason::not_found, ErrorReason::timeout})
        EXPECT_EQ(in_terms_of(Dialect::original, {reason, "x"}).reason, reason);
}

}  // namespace
}  // namespace ci
