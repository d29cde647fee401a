#include <gtest/gtest.h>

#include "request_fields.hpp"

namespace ci {
namespace {

template <class T>
ApiError error_of(const std::variant<T, ApiError>& v) {
    EXPECT_TRUE(std::holds_alternative<ApiError>(v));
    return std::holds_alternative<ApiError>(v) ? std::get<ApiError>(v) : ApiError{};
}

TEST(RequestFields, RecognisesUuids) {
    EXPECT_TRUE(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
    EXPECT_TRUE(is_uuid("123E4567-E89B-12D3-A456-426614174000"));
    EXPECT_FALSE(is_uuid("123e4567e89b12d3a456426614174000"));
    EXPECT_FALSE(is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    EXPECT_FALSE(is_uuid("../../etc/passwd"));
    EXPECT_FALSE(is_uuid(""));
}

TEST(RequestFields, BodyMustBeASmallEnoughJsonObject) {
    EXPECT_EQ(std::get<nlohmann::json>(parse_body("", 100)), nlohmann::json::object());
    EXPECT_EQ(std::get<nlohmann::json>(parse_body(R"({"a":1})", 100))["a"], 1);
    EXPECT_EQ(error_of(parse_body("{\"a\":", 100)).message, "request body is not valid JSON");
    EXPECT_EQ(error_of(parse_body("[1]", 100)).message, "request body must be a JSON object");
    auto too_big = error_of(parse_body(std::string(101, ' '), 100));
    EXPECT_EQ(too_big.reason, ErrorReason::payload_too_large);
    EXPECT_EQ(too_big.message, "request body of 101 bytes exceeds the limit of 100 bytes (server.max_body_bytes)");
}

const Caller kDefaultTenant{};

// user_uuid() of the default tenant, as the tests below were written.
std::variant<std::string, ApiError> user_uuid(const nlohmann::json& body, const std::optional<std::string>& query) {
    return session_owner(kDefaultTenant, body, query);
}

TEST(RequestFields, UserUuidComesFromTheBodyElseTheQueryAndIsLowerCased) {
    const std::string upper = "123E4567-E89B-12D3-A456-426614174000";
    const std::string lower = "123e4567-e89b-12d3-a456-426614174000";
    EXPECT_EQ(std::get<std::string>(user_uuid({{"user_uuid", upper}}, std::nullopt)), lower);
    EXPECT_EQ(std::get<std::string>(user_uuid(nlohmann::json::object(), upper)), lower);
    EXPECT_EQ(std::get<std::string>(user_uuid({{"user_uuid", lower}}, "not used")), lower);
    EXPECT_EQ(error_of(user_uuid(nlohmann::json::object(), std::nullopt)).message, "missing field user_uuid");
    EXPECT_EQ(error_of(user_uuid({{"user_uuid", 5}}, std::nullopt)).message, "user_uuid must be a string");
    EXPECT_EQ(error_of(user_uuid({{"user_uuid", "x"}}, std::nullopt)).reason, ErrorReason::bad_request);
}

TEST(RequestFields, ANamedTenantsSessionsAreKeyedApartFromEveryOtherTenants) {
    const std::string uuid = "123e4567-e89b-12d3-a456-426614174000";
    const nlohmann::json body = {{"user_uuid", uuid}};
    const auto a = std::get<std::string>(session_owner(Caller{"billing", "tenant:billing"}, body, std::nullopt));
    const auto b = std::get<std::string>(session_owner(Caller{"research", "tenant:research"}, body, std::nullopt));
    const auto plain = std::get<std::string>(session_owner(kDefaultTenant, body, std::nullopt));
    EXPECT_EQ(plain, uuid);
    EXPECT_EQ(a, "billing/" + uuid);
    EXPECT_NE(a, b);
    EXPECT_EQ(tenant_of(a), "billing");
    EXPECT_EQ(tenant_of(plain), "default");
}

TEST(RequestFields, CodeMustBeAString) {
    EXPECT_EQ(std::get<std::string>(code_field({{"code", "print(1)"}})), "print(1)");
    EXPECT_EQ(error_of(code_field(nlohmann::json::object())).message, "missing field code");
    EXPECT_EQ(error_of(code_field({{"code", nullptr}})).message, "code must be a string");
}

TEST(RequestFields, OptionalBooleansFallBackOnlyWhenAbsentOrNull) {
    EXPECT_TRUE(std::get<bool>(bool_field(nlohmann::json::object(), "store_history", true)));
    EXPECT_FALSE(std::get<bool>(bool_field({{"store_history", nullptr}}, "store_history", false)));
    EXPECT_TRUE(std::get<bool>(bool_field({{"store_history", true}}, "store_history", false)));
    EXPECT_EQ(error_of(bool_field({{"store_history", "yes"}}, "store_history", false)).message,
              "store_history must be true or false");
    EXPECT_EQ(error_of(bool_field({{"store_history", 1}}, "store_history", false)).reason, ErrorReason::bad_request);
}

TEST(RequestFields, QueryValuesArePercentDecoded) {
    EXPECT_EQ(percent_decode("a%2Fb+c%20d%2b"), "a/b c d+");
    EXPECT_EQ(percent_decode("plain.txt"), "plain.txt");
    EXPECT_EQ(percent_decode("%e2%82%AC"), "\xe2\x82\xac");
    EXPECT_FALSE(percent_decode("bad%2"));
    EXPECT_FALSE(percent_decode("bad%"));
    EXPECT_FALSE(percent_decode("bad%zz"));
}

TEST(RequestFields, PathComesFromTheBodyElseTheDecodedQuery) {
    EXPECT_EQ(std::get<std::string>(path_field({{"path", "data/a b.csv"}}, "ignored")), "data/a b.csv");
    EXPECT_EQ(std::get<std::string>(path_field(nlohmann::json::object(), "data/a%20b.csv")), "data/a b.csv");
    EXPECT_EQ(error_of(path_field(nlohmann::json::object(), std::nullopt)).message, "missing field path");
    EXPECT_EQ(error_of(path_field({{"path", 3}}, std::nullopt)).message, "path must be a string");
    EXPECT_EQ(error_of(path_field({{"path", ""}}, std::nullopt)).message, "path must not be empty");
    EXPECT_EQ(error_of(path_field(nlohmann::json::object(), "%4")).reason, ErrorReason::bad_request);
}

TEST(RequestFields, FlagsComeFromBooleansFormTextOrTheQuery) {
    EXPECT_EQ(std::get<bool>(flag_field({{"recursive", true}}, std::nullopt, "recursive", false)), true);
    EXPECT_EQ(std::get<bool>(flag_field({{"recursive", "false"}}, "true", "recursive", true)), false);
    EXPECT_EQ(std::get<bool>(flag_field(nlohmann::json::object(), "1", "recursive", false)), true);
    EXPECT_EQ(std::get<bool>(flag_field(nlohmann::json::object(), "false", "recursive", true)), false);
    EXPECT_EQ(std::get<bool>(flag_field(nlohmann::json::object(), std::nullopt, "recursive", true)), true);
    EXPECT_EQ(error_of(flag_field({{"recursive", "yes"}}, std::nullopt, "recursive", false)).message,
              "recursive must be true or false");
    EXPECT_EQ(error_of(flag_field(nlohmann::json::object(), "yes", "overwrite", false)).message,
              "overwrite must be true or false");
}

}  // namespace
}  // namespace ci
