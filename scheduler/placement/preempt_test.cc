#include "scheduler/placement/preempt.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/placement/placement.h"

namespace berth::sched {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kGiB = int64_t{1} << 30;

TEST(BandTest, ServicePreemptsBatchButNotItsOwnBand) {
  struct Case {
    int32_t preemptor, victim;
    bool want;
  };
  const Case kCases[] = {
      {50, 20, true},   // service default over batch default
      {50, 50, false},  // equal priority
      {55, 50, false},  // same band 5
      {59, 50, false},  // same band 5
      {60, 59, true},   // band 6 over band 5
      {20, 20, false},  // batch over cron: same band
      {20, 50, false},  // lower never preempts higher
      {100, 99, true},  // band 10 over band 9
      {0, 0, false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(MayPreempt(c.preemptor, c.victim), c.want)
        << c.preemptor << " over " << c.victim;
  }
}

TEST(ChooseVictimsTest, LowestPriorityFirstThenSmallest) {
  std::vector<VictimCandidate> c = {
      {"big-low", 10, 2000, 0, 0, 0, 2},
      {"small-low", 10, 500, 0, 0, 0, 1},
      {"mid-higher", 20, 1000, 0, 0, 0, 1},
  };
  // Needs 500: the smallest of the lowest priority suffices.
  EXPECT_THAT(*ChooseVictims(c, {500, 0, 0, 0}), ElementsAre(1));
  // Needs 2000: greedy takes small-low then big-low; pruning drops
  // small-low because big-low alone covers it.
  EXPECT_THAT(*ChooseVictims(c, {2000, 0, 0, 0}), ElementsAre(0));
  // Needs 3000: greedy takes all three (3500); small-low is then redundant.
  EXPECT_THAT(*ChooseVictims(c, {3000, 0, 0, 0}), UnorderedElementsAre(0, 2));
  // Needs more than everything: impossible.
  EXPECT_FALSE(ChooseVictims(c, {4000, 0, 0, 0}).has_value());
  // Memory and ports are needs too.
  std::vector<VictimCandidate> m = {{"a", 10, 0, kGiB, 0, 0, 1},
                                    {"b", 10, 0, 0, 0, 2, 1}};
  EXPECT_THAT(*ChooseVictims(m, {0, 0, 0, 2}), ElementsAre(1));
  EXPECT_THAT(*ChooseVictims(m, {0, 1, 0, 1}), UnorderedElementsAre(0, 1));
}

class PreemptPlaceTest : public ::testing::Test {
 protected:
  // One full node running two batch allocations and one service.
  void SetUp() override {
    jobpb::Node n;
    n.set_name("n1");
    n.mutable_capacity()->set_cpu_millicores(3000);
    n.mutable_capacity()->set_memory_bytes(3 * kGiB);
    n.mutable_allocated()->set_cpu_millicores(3000);
    n.mutable_allocated()->set_memory_bytes(3 * kGiB);
    snap_.nodes.push_back(n);
    Add("batch-a", 20, 1000);
    Add("batch-b", 25, 1000);
    Add("svc", 50, 1000);
  }
  void Add(const std::string& id, int32_t prio, int64_t cpu) {
    jobpb::Allocation a;
    a.set_id(id);
    a.set_job(id);
    a.set_namespace_("default");
    a.set_node("n1");
    a.set_priority(prio);
    a.set_desired_state(jobpb::Allocation::RUN);
    a.mutable_resources()->set_cpu_millicores(cpu);
    a.mutable_resources()->set_memory_bytes(cpu * kGiB / 1000);
    snap_.allocations.push_back(a);
  }
  PlacementRequest Req(int32_t prio, int64_t cpu, int32_t count = 1) {
    PlacementRequest r;
    r.job = "new";
    r.priority = prio;
    r.resources.set_cpu_millicores(cpu);
    r.resources.set_memory_bytes(cpu * kGiB / 1000);
    r.count = count;
    return r;
  }
  ClusterSnapshot snap_;
};

TEST_F(PreemptPlaceTest, ServiceEvictsLowestPriorityBatch) {
  absl::StatusOr<PlacementResult> r = Place(snap_, Req(50, 1000));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->placements.size(), 1u);
  EXPECT_EQ(r->placements[0].node, "n1");
  EXPECT_THAT(r->placements[0].preempted, ElementsAre("batch-a"));
  EXPECT_THAT(r->victims, ElementsAre("batch-a"));
}

TEST_F(PreemptPlaceTest, EvictsOnlyWhatIsNeededAcrossPlacements) {
  absl::StatusOr<PlacementResult> r = Place(snap_, Req(50, 1000, 3));
  ASSERT_TRUE(r.ok());
  // Both batch allocations go, the same-band service stays.
  EXPECT_THAT(r->victims, ElementsAre("batch-a", "batch-b"));
  EXPECT_EQ(r->placements.size(), 2u);
  EXPECT_EQ(r->unplaced, 1);
  EXPECT_EQ(r->explanation, "1 node lacked cpu");
}

TEST_F(PreemptPlaceTest, SameBandNeverPreempts) {
  absl::StatusOr<PlacementResult> r = Place(snap_, Req(29, 1000));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->placements, IsEmpty());
  EXPECT_THAT(r->victims, IsEmpty());
  EXPECT_EQ(r->unplaced, 1);
}

TEST_F(PreemptPlaceTest, DisabledPreemption) {
  PlacementRequest req = Req(90, 1000);
  req.allow_preemption = false;
  absl::StatusOr<PlacementResult> r = Place(snap_, req);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->victims, IsEmpty());
  EXPECT_EQ(r->unplaced, 1);
}

TEST_F(PreemptPlaceTest, PrefersNodeWithLowerPriorityVictims) {
  jobpb::Node n2 = snap_.nodes[0];
  n2.set_name("n0");  // sorts first, so only priority can make n1 win
  snap_.nodes.push_back(n2);
  jobpb::Allocation a = snap_.allocations[2];
  a.set_id("n0-svc");
  a.set_node("n0");
  a.set_priority(35);
  a.mutable_resources()->set_cpu_millicores(3000);
  a.mutable_resources()->set_memory_bytes(3 * kGiB);
  snap_.allocations.push_back(a);
  absl::StatusOr<PlacementResult> r = Place(snap_, Req(90, 1000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->placements[0].node, "n1");
  EXPECT_THAT(r->victims, ElementsAre("batch-a"));
}

TEST_F(PreemptPlaceTest, NeverEvictsOnDrainingNode) {
  snap_.nodes[0].set_draining(true);
  absl::StatusOr<PlacementResult> r = Place(snap_, Req(90, 1000));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->victims, IsEmpty());
  EXPECT_EQ(r->explanation, "1 node draining");
}

}  // namespace
}  // namespace berth::sched
