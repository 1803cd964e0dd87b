#include "tests/nemesis/watch_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::nemesis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<WrittenValue> Writes() {
  return {{"/w/a", "1", 10},
          {"/w/b", "2", 11},
          {"/w/a", "3", 0},
          {"/w/b", "4", 13}};
}

TEST(WatchCheckTest, CompleteOrderedDeliveryPasses) {
  WatcherLog w{10, {{"/w/a", "1", 10}, {"/w/b", "2", 11}, {"/w/b", "4", 13}}};
  WatchVerdict v = CheckWatches(Writes(), {w});
  EXPECT_THAT(v.violations, IsEmpty());
  EXPECT_EQ(v.acked_checked, 3);
  EXPECT_EQ(v.unknown_seen, 0);
}

TEST(WatchCheckTest, UnknownWriteMayAppearOnce) {
  WatcherLog w{10,
               {{"/w/a", "1", 10},
                {"/w/b", "2", 11},
                {"/w/a", "3", 12},
                {"/w/b", "4", 13}}};
  WatchVerdict v = CheckWatches(Writes(), {w});
  EXPECT_THAT(v.violations, IsEmpty());
  EXPECT_EQ(v.unknown_seen, 1);
}

TEST(WatchCheckTest, MissingAcknowledgedWriteIsAViolation) {
  WatcherLog w{10, {{"/w/a", "1", 10}, {"/w/b", "4", 13}}};
  WatchVerdict v = CheckWatches(Writes(), {w});
  EXPECT_THAT(v.violations,
              ElementsAre(HasSubstr("/w/b=2 at revision 11 never delivered")));
}

TEST(WatchCheckTest, RepeatAndReorderAreViolations) {
  WatcherLog repeat{10,
                    {{"/w/a", "1", 10},
                     {"/w/b", "2", 11},
                     {"/w/b", "2", 11},
                     {"/w/b", "4", 13}}};
  WatchVerdict v = CheckWatches(Writes(), {repeat});
  EXPECT_THAT(v.violations, ElementsAre(HasSubstr("revision 11 after 11"),
                                        HasSubstr("delivered twice")));
  WatcherLog reorder{10,
                     {{"/w/b", "2", 11}, {"/w/a", "1", 10}, {"/w/b", "4", 13}}};
  EXPECT_THAT(CheckWatches(Writes(), {reorder}).violations,
              ElementsAre(HasSubstr("revision 10 after 11")));
}

TEST(WatchCheckTest, PhantomAndWrongRevisionAreViolations) {
  WatcherLog w{10,
               {{"/w/a", "1", 10},
                {"/w/b", "2", 12},
                {"/w/c", "9", 14},
                {"/w/b", "4", 15}}};
  WatchVerdict v = CheckWatches(Writes(), {w});
  EXPECT_THAT(v.violations,
              ElementsAre(HasSubstr("writer was told /w/b at revision 11"),
                          HasSubstr("phantom write /w/c=9"),
                          HasSubstr("writer was told /w/b at revision 13")));
}

TEST(WatchCheckTest, CompactedRangeExcusesOnlyItsRevisions) {
  WatcherLog w{10, {{"/w/b", "4", 13}}, {{10, 12}}};
  WatchVerdict v = CheckWatches(Writes(), {w});
  EXPECT_THAT(v.violations, IsEmpty());
  EXPECT_EQ(v.excused, 2);
  EXPECT_EQ(v.acked_checked, 1);
  WatcherLog short_range{10, {{"/w/b", "4", 13}}, {{10, 11}}};
  EXPECT_THAT(CheckWatches(Writes(), {short_range}).violations,
              ElementsAre(HasSubstr("revision 11 never delivered")));
}

TEST(WatchCheckTest, WritesBeforeTheStartAreNotRequired) {
  WatcherLog w{12, {{"/w/b", "4", 13}}};
  WatchVerdict v = CheckWatches(Writes(), {w});
  EXPECT_THAT(v.violations, IsEmpty());
  EXPECT_EQ(v.acked_checked, 1);
}

}  // namespace
}  // namespace berth::nemesis
