// The typed requests of the agent protocol: each kind's wire form, its round trip, and the strict
// decoding that refuses anything else.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include "code_interpreter/protocol/requests.hpp"

namespace ci::protocol {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The request body decodes to, or the refusal's text.
Request decoded(const json& body) {
    auto result = decode_request(body);
    EXPECT_TRUE(std::holds_alternative<Request>(result)) << body << ": " << std::get<std::string>(result);
    return std::holds_alternative<Request>(result) ? std::get<Request>(result) : Request{};
}
std::string refusal(const json& body) {
    auto result = decode_request(body);
    return std::holds_alternative<std::string>(result) ? std::get<std::string>(result) : "accepted";
}

TEST(ProtocolRequests, EachKindHasItsWireForm) {
    EXPECT_EQ(encode_request(PingRequest{}), json({{"op", "ping"}}));
    EXPECT_EQ(encode_request(InterruptRequest{}), json({{"op", "interrupt"}}));
    EXPECT_EQ(encode_request(ExecuteRequest{"1 + 1", 4096, true, false}),
              json({{"op", "execute"}, {"code", "1 + 1"}, {"max_output_bytes", 4096}, {"store_history", true},
                    {"stream", false}}));
    EXPECT_EQ(encode_request(FileWriteRequest{.path = "a/b", .data = std::string("\0\xff", 2), .append = true}),
              json({{"op", "file_write"}, {"path", "a/b"}, {"data_base64", "AP8="}, {"overwrite", true},
                    {"make_parents", true}, {"append", true}}));
    EXPECT_EQ(encode_request(FileReadRequest{.path = "x", .offset = 5}), json({{"op", "file_read"}, {"path", "x"}, {"offset", 5}}));
    EXPECT_EQ(encode_request(FileListRequest{}), json({{"op", "file_list"}, {"path", "."}}));
    EXPECT_EQ(encode_request(FileDeleteRequest{"d", true}), json({{"op", "file_delete"}, {"path", "d"}, {"recursive", true}}));
    EXPECT_EQ(encode_request(FileMoveRequest{"a", "b", false}),
              json({{"op", "file_move"}, {"from", "a"}, {"to", "b"}, {"overwrite", false}}));
}

TEST(ProtocolRequests, EveryKindSurvivesTheRoundTrip) {
    const Request requests[] = {
        PingRequest{},
        InterruptRequest{},
        ExecuteRequest{"print('é')", 1 << 20, false, true},
        FileWriteRequest{"dir/f.bin", std::string("bin\0ary", 7), false, false, false},
        FileReadRequest{"f", 10, 20, 30},
        FileReadRequest{"f"},
        FileListRequest{"sub"},
        FileDeleteRequest{"t", true},
        FileMoveRequest{".part", "final", true},
    };
    for (const auto& request : requests) {
        json body = encode_request(request);
        body["id"] = 42;  // the sender's; decoding leaves it alone
        Request back = decoded(body);
        EXPECT_EQ(back.index(), request.index()) << body;
        EXPECT_EQ(encode_request(back), encode_request(request)) << body;
    }
    const auto read = std::get<FileReadRequest>(decoded({{"op", "file_read"}, {"path", "f"}}));
    EXPECT_FALSE(read.partial());
    EXPECT_FALSE(read.max_bytes);
    EXPECT_TRUE(std::get<FileReadRequest>(decoded({{"op", "file_read"}, {"path", "f"}, {"length", 1}})).partial());
    EXPECT_TRUE(is_file_request(FileMoveRequest{}));
    EXPECT_FALSE(is_file_request(ExecuteRequest{}));
    EXPECT_EQ(op_name(FileListRequest{}), "file_list");
}

TEST(ProtocolRequests, DefaultsApplyToAbsentOptionalFields) {
    const auto execute = std::get<ExecuteRequest>(decoded({{"op", "execute"}, {"code", ""}, {"max_output_bytes", 0}}));
    EXPECT_FALSE(execute.store_history);
    EXPECT_FALSE(execute.stream);
    const auto write = std::get<FileWriteRequest>(decoded({{"op", "file_write"}, {"path", "p"}, {"data_base64", ""}}));
    EXPECT_TRUE(write.overwrite);
    EXPECT_TRUE(write.make_parents);
    EXPECT_FALSE(write.append);
    EXPECT_EQ(std::get<FileListRequest>(decoded({{"op", "file_list"}})).path, ".");
}

TEST(ProtocolRequests, DecodingIsStrict) {
    EXPECT_THAT(refusal(json::array()), HasSubstr("JSON object"));
    EXPECT_THAT(refusal({{"code", "1"}}), HasSubstr("\"op\""));
    EXPECT_THAT(refusal({{"op", 5}}), HasSubstr("\"op\""));
    EXPECT_THAT(refusal({{"op", "file_chmod"}}), HasSubstr("unknown op \"file_chmod\""));
    EXPECT_THAT(refusal({{"op", "execute"}, {"max_output_bytes", 1}}), HasSubstr("execute: missing field \"code\""));
    EXPECT_THAT(refusal({{"op", "execute"}, {"code", 1}, {"max_output_bytes", 1}}), HasSubstr("\"code\" must be a string"));
    EXPECT_THAT(refusal({{"op", "execute"}, {"code", ""}, {"max_output_bytes", -1}}), HasSubstr("non-negative integer"));
    EXPECT_THAT(refusal({{"op", "execute"}, {"code", ""}, {"max_output_bytes", 1.5}}), HasSubstr("non-negative integer"));
    EXPECT_THAT(refusal({{"op", "execute"}, {"code", ""}, {"max_output_bytes", 1}, {"stream", "yes"}}),
                HasSubstr("\"stream\" must be true or false"));
    EXPECT_THAT(refusal({{"op", "execute"}, {"code", ""}, {"max_output_bytes", 1}, {"timeout", 3}}),
                HasSubstr("unknown field \"timeout\""));
    EXPECT_THAT(refusal({{"op", "ping"}, {"extra", true}}), HasSubstr("ping: unknown field \"extra\""));
    EXPECT_THAT(refusal({{"op", "file_write"}, {"path", "p"}, {"data_base64", "not base64!"}}), HasSubstr("base64"));
    EXPECT_THAT(refusal({{"op", "file_write"}, {"path", "p"}}), HasSubstr("missing field \"data_base64\""));
    EXPECT_THAT(refusal({{"op", "file_read"}, {"path", "p"}, {"offset", "0"}}), HasSubstr("\"offset\""));
    EXPECT_THAT(refusal({{"op", "file_delete"}, {"path", "p"}, {"recursive", 1}}), HasSubstr("\"recursive\""));
    EXPECT_THAT(refusal({{"op", "file_move"}, {"from", "a"}}), HasSubstr("missing field \"to\""));
    EXPECT_THAT(refusal({{"op", "file_list"}, {"path", nullptr}}), HasSubstr("\"path\" must be a string"));
}

}  // namespace
}  // namespace ci::protocol
