#include <gtest/gtest.h>

#include "multipart.hpp"

namespace ci {
namespace {

using Parts = std::vector<FormPart>;

TEST(Multipart, SplitsFieldsAndAFileWithBinaryBytes) {
    const std::string binary("\x00\r\n--not\xff", 10);
    const std::string body = "--XyZ\r\n"
                             "Content-Disposition: form-data; name=\"user_uuid\"\r\n\r\n"
                             "123\r\n"
                             "--XyZ\r\n"
                             "content-disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\";c.bin\"\r\n"
                             "Content-Type: application/octet-stream\r\n\r\n" +
                             binary +
                             "\r\n--XyZ--\r\n";
    auto parsed = parse_multipart(body, "XyZ");
    ASSERT_TRUE(std::holds_alternative<Parts>(parsed)) << std::get<ApiError>(parsed).message;
    const auto& parts = std::get<Parts>(parsed);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].name, "user_uuid");
    EXPECT_FALSE(parts[0].filename);
    EXPECT_EQ(parts[0].data, "123");
    EXPECT_EQ(parts[1].name, "file");
    EXPECT_EQ(parts[1].filename, "a \"b\";c.bin");
    EXPECT_EQ(parts[1].data, binary);
}

TEST(Multipart, AcceptsAPreambleAnEmptyPartAndPaddingAfterTheBoundary) {
    const std::string body = "ignored preamble\r\n--b \t\r\n"
                             "Content-Disposition: form-data; name=path\r\n\r\n"
                             "\r\n--b--";
    auto parsed = parse_multipart(body, "b");
    ASSERT_TRUE(std::holds_alternative<Parts>(parsed)) << std::get<ApiError>(parsed).message;
    const auto& parts = std::get<Parts>(parsed);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].name, "path");
    EXPECT_EQ(parts[0].data, "");
}

TEST(Multipart, RefusesMalformedBodiesWithAClearError) {
    auto error_of = [](const std::string& body, const std::string& boundary = "b") {
        auto parsed = parse_multipart(body, boundary);
        EXPECT_TRUE(std::holds_alternative<ApiError>(parsed)) << body;
        return std::holds_alternative<ApiError>(parsed) ? std::get<ApiError>(parsed) : ApiError{};
    };
    EXPECT_EQ(error_of("no boundary here").message, "malformed multipart/form-data body: no boundary line");
    EXPECT_EQ(error_of("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nnever closed").message,
              "malformed multipart/form-data body: a part is not closed by a boundary line");
    EXPECT_EQ(error_of("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--").message,
              "malformed multipart/form-data body: a part has no Content-Disposition: form-data with a name");
    EXPECT_EQ(error_of("--b\r\nno colon\r\n\r\nx\r\n--b--").reason, ErrorReason::bad_request);
    EXPECT_EQ(error_of("--bx\r\n\r\nx\r\n--b--").message,
              "malformed multipart/form-data body: a boundary line has more after the boundary");
    EXPECT_EQ(error_of("--b\r\n\r\n", "").message,
              "malformed multipart/form-data body: the boundary must have 1 to 70 characters");
}

}  // namespace
}  // namespace ci
