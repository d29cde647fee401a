#include <gtest/gtest.h>

#include "api_error.hpp"

namespace ci {
namespace {

TEST(ApiError, BodiesCarryTheirDetails) {
    ApiError error{ErrorReason::interrupted, "stopped", true};
    error.details = {{"stdout", "partial"}};
    auto body = error_json(error);
    EXPECT_EQ(body, (nlohmann::json{{"detail", "stopped"}, {"reason", "interrupted"}, {"session_kept", true},
                                    {"stdout", "partial"}}));
    EXPECT_EQ(http_status(ErrorReason::interrupted), 409);
}

}  // namespace
}  // namespace ci
