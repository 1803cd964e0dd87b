// The pure parts of the etcd/ZooKeeper comparison: the ZooKeeper lock
// recipe's decision, /proc parsing for server cost, and --server-pids.
#include <unistd.h>

#include <string>
#include <vector>

#include "cli/commands/bench_proc.h"
#include "cli/commands/bench_zk_recipe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ZkRecipeTest, LowestSequenceHoldsTheLock) {
  auto d = DecideZkLock("n-0000000007",
                        {"n-0000000009", "n-0000000007", "n-0000000008"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->granted);
}

// Sequence order, not name order or list order, decides; and the waiter
// watches only its immediate predecessor.
TEST(ZkRecipeTest, WaiterWatchesItsImmediatePredecessor) {
  auto d = DecideZkLock("n-0000000012", {"n-0000000012", "n-0000000003",
                                         "n-0000000011", "n-0000000015"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->granted);
  EXPECT_EQ(d->predecessor, "n-0000000011");
}

TEST(ZkRecipeTest, SequenceComparesNumbersAcrossPrefixes) {
  // A differently named older node still counts by its sequence.
  auto d = DecideZkLock("b-0000000100", {"a-0000000099", "b-0000000100"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->predecessor, "a-0000000099");
}

TEST(ZkRecipeTest, MissingOwnNodeOrBadNamesAreErrors) {
  auto gone = DecideZkLock("n-0000000004", {"n-0000000001"});
  EXPECT_TRUE(absl::IsNotFound(gone.status()));
  EXPECT_THAT(gone.status().message(), HasSubstr("n-0000000004"));
  auto bad = DecideZkLock("n-0000000004", {"n-0000000004", "stray"});
  EXPECT_THAT(bad.status().message(), HasSubstr("\"stray\""));
  EXPECT_FALSE(ZkSequence("n-12").ok());
}

TEST(ZkRecipeTest, AncestorsShortestFirst) {
  EXPECT_THAT(ZkAncestors("/a/b/c"), ElementsAre("/a", "/a/b"));
  EXPECT_TRUE(ZkAncestors("/a").empty());
}

TEST(BenchProcTest, CpuTicksCountFromTheLastParenthesis) {
  // A command name with spaces and ')' must not shift the fields.
  const std::string stat =
      "4242 (berth (x) lockd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 "
      "250 75 0 0 20 0 9 0 12345 100000 2000 18446744073709551615";
  auto ticks = ParseStatCpuTicks(stat);
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, 325);
  EXPECT_FALSE(ParseStatCpuTicks("4242 (short) S 1 2").ok());
  EXPECT_FALSE(ParseStatCpuTicks("no parenthesis").ok());
}

TEST(BenchProcTest, PeakRssFromVmHwm) {
  auto kb =
      ParseVmHwmKb("Name:\tetcd\nVmPeak:\t 900 kB\nVmHWM:\t   51200 kB\n");
  ASSERT_TRUE(kb.ok()) << kb.status();
  EXPECT_EQ(*kb, 51200);
  EXPECT_TRUE(absl::IsNotFound(ParseVmHwmKb("Name:\tx\n").status()));
  EXPECT_FALSE(ParseVmHwmKb("VmHWM:\t12 MB\n").ok());
}

TEST(BenchProcTest, ReadsThisProcess) {
  auto s = ReadProc(getpid());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->peak_rss_kb, 0);
  EXPECT_GE(s->cpu_seconds, 0);
  EXPECT_TRUE(absl::IsNotFound(ReadProc(0x3fffffff).status()));
}

TEST(BenchProcTest, PidListNamesTheBadElement) {
  auto ok = ParsePidList("12, 34,56");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_THAT(*ok, ElementsAre(12, 34, 56));
  auto bad = ParsePidList("12,abc");
  EXPECT_THAT(bad.status().message(), HasSubstr("\"abc\""));
  EXPECT_FALSE(ParsePidList("0").ok());
  EXPECT_FALSE(ParsePidList("").ok());
}

}  // namespace
}  // namespace berth::cli
