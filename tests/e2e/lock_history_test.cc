// The contention checker must catch the violations it exists for; these
// histories are built by hand so that each one breaks exactly one rule.
#include "tests/e2e/lock_history.h"

#include "gtest/gtest.h"

namespace berth::e2e {
namespace {

std::vector<HistoryEvent> Parse(const std::string& text, int contender) {
  auto events = ParseHistory(text, contender);
  EXPECT_TRUE(events.ok()) << events.status();
  return events.ok() ? *events : std::vector<HistoryEvent>{};
}

std::vector<HistoryEvent> Merge(std::vector<HistoryEvent> a,
                                const std::vector<HistoryEvent>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(LockHistory, CleanHandoverPasses) {
  auto events = Merge(Parse("ACQ 10 100\n"
                            "WRITE 10 /e2e/hist/10-1 ok 110 11\n"
                            "REL 10 120 ok\n",
                            1),
                      Parse("ACQ 13 130\n"
                            "WRITE 13 /e2e/hist/13-1 ok 140 14\n"
                            "REL 13 150 ok\n",
                            2));
  std::map<std::string, StoredWrite> stored = {{"/e2e/hist/10-1", {11, 1}},
                                               {"/e2e/hist/13-1", {14, 1}}};
  HistoryStats stats;
  EXPECT_TRUE(CheckHistory(events, stored, &stats).empty());
  EXPECT_EQ(stats.grants, 2);
  EXPECT_EQ(stats.writes_ok, 2);
}

TEST(LockHistory, GrantWithSmallerTokenLaterIsReported) {
  auto events = Merge(Parse("ACQ 13 100\n", 1), Parse("ACQ 10 200\n", 2));
  HistoryStats stats;
  auto bad = CheckHistory(events, {}, &stats);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("grant order"), std::string::npos) << bad[0];
}

TEST(LockHistory, StaleHolderWriteAfterNextGrantIsReported) {
  // Token 10's write landed at revision 15, after token 13 was granted.
  auto events =
      Merge(Parse("ACQ 10 100\nWRITE 10 /e2e/hist/10-1 ok 160 15\n", 1),
            Parse("ACQ 13 130\nWRITE 13 /e2e/hist/13-1 ok 140 14\n", 2));
  std::map<std::string, StoredWrite> stored = {{"/e2e/hist/10-1", {15, 1}},
                                               {"/e2e/hist/13-1", {14, 1}}};
  HistoryStats stats;
  auto bad = CheckHistory(events, stored, &stats);
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].find("overlap"), std::string::npos) << bad[0];
  EXPECT_NE(bad[1].find("was granted"), std::string::npos) << bad[1];
}

TEST(LockHistory, AcknowledgedWriteMissingIsReported) {
  auto events = Parse("ACQ 10 100\nWRITE 10 /e2e/hist/10-1 ok 110 11\n", 1);
  HistoryStats stats;
  auto bad = CheckHistory(events, {}, &stats);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("lost write"), std::string::npos) << bad[0];
}

TEST(LockHistory, RejectedWriteInStoreIsReported) {
  auto events = Parse("ACQ 10 100\nWRITE 10 /e2e/hist/10-1 stale 110 0\n", 1);
  HistoryStats stats;
  auto bad = CheckHistory(events, {{"/e2e/hist/10-1", {11, 1}}}, &stats);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(stats.writes_stale, 1);
}

TEST(LockHistory, UnknownOutcomeMayOrMayNotApply) {
  auto events = Parse(
      "ACQ 10 100\nWRITE 10 /e2e/hist/10-1 unknown 110 0\n"
      "WRITE 10 /e2e/hist/10-2 unknown 120 0\n",
      1);
  HistoryStats stats;
  EXPECT_TRUE(
      CheckHistory(events, {{"/e2e/hist/10-1", {11, 1}}}, &stats).empty());
  EXPECT_EQ(stats.writes_unknown, 2);
  EXPECT_EQ(stats.unknown_applied, 1);
}

TEST(LockHistory, MalformedLineNamesTheLine) {
  auto events = ParseHistory("ACQ 10 100\nACQ ten 100\n", 3);
  ASSERT_FALSE(events.ok());
  EXPECT_NE(events.status().message().find("line 2"), std::string::npos);
}

}  // namespace
}  // namespace berth::e2e
