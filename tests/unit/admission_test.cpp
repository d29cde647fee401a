#include <gtest/gtest.h>

#include "admission.hpp"

namespace ci {
namespace {

TEST(Admission, RunsUpToTheLimitThenQueuesInArrivalOrder) {
    Admission admission(2);
    EXPECT_TRUE(admission.enter({"a", 1}));
    EXPECT_TRUE(admission.enter({"b", 2}));
    EXPECT_FALSE(admission.enter({"c", 3}));
    EXPECT_FALSE(admission.enter({"d", 4}));
    EXPECT_FALSE(admission.enter({"c", 3}));  // asking again does not queue twice
    EXPECT_EQ(admission.waiting(), 2u);
    EXPECT_FALSE(admission.admit());  // no free slot
    admission.leave();
    auto next = admission.admit();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->user, "c");
    EXPECT_EQ(admission.running(), 2);
    EXPECT_FALSE(admission.admit());
    admission.leave();
    EXPECT_EQ(admission.admit()->session_id, 4u);
    EXPECT_EQ(admission.waiting(), 0u);
}

TEST(Admission, AFreeSlotGoesToTheWaitingSessionNotANewcomer) {
    Admission admission(1);
    EXPECT_TRUE(admission.enter({"a", 1}));
    EXPECT_FALSE(admission.enter({"b", 2}));
    admission.leave();
    // "a" asks again before the waiting "b" was admitted: it queues behind it.
    EXPECT_FALSE(admission.enter({"a", 1}));
    EXPECT_EQ(admission.admit()->user, "b");
    admission.leave();
    EXPECT_EQ(admission.admit()->user, "a");
}

TEST(Admission, LeaveNeverGoesBelowZero) {
    Admission admission(1);
    admission.leave();
    EXPECT_EQ(admission.running(), 0);
    EXPECT_TRUE(admission.enter({"a", 1}));
}

}  // namespace
}  // namespace ci
