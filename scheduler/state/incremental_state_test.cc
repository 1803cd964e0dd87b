// The dirty set and the node free-resource index the mirror keeps for
// incremental scheduling.
#include <string>

#include "gtest/gtest.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/dirty_set.h"
#include "scheduler/state/keys.h"

namespace berth::sched {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(DirtySetTest, TakeReturnsMarksAndDueWakeUpsOnce) {
  DirtySet d;
  d.Mark({"d", "a"});
  d.WakeAt({"d", "b"}, kT0 + absl::Seconds(5));
  d.WakeAt({"d", "b"}, kT0 + absl::Seconds(2));  // earliest wins
  d.WakeAt({"d", "b"}, kT0 + absl::Seconds(9));
  EXPECT_EQ(d.NextWake(), kT0 + absl::Seconds(2));
  EvalScope s = d.Take(kT0);
  EXPECT_FALSE(s.all);
  EXPECT_EQ(s.jobs, (std::vector<JobId>{{"d", "a"}}));
  EXPECT_TRUE(d.Take(kT0).jobs.empty());
  s = d.Take(kT0 + absl::Seconds(2));
  EXPECT_EQ(s.jobs, (std::vector<JobId>{{"d", "b"}}));
  EXPECT_EQ(d.timers(), 0u);
  EXPECT_EQ(d.NextWake(), absl::InfiniteFuture());
  d.MarkAll();
  EXPECT_TRUE(d.Take(kT0).all);
  EXPECT_FALSE(d.Take(kT0).all);
}

std::string NodeInfo(const std::string& name, int64_t cpu) {
  agentpb::NodeInfo n;
  n.set_name(name);
  n.set_cpu_millicores(cpu);
  n.set_memory_bytes(int64_t{8} << 30);
  return n.SerializeAsString();
}

std::string Alloc(const std::string& job, int slot, const std::string& node,
                  int64_t cpu, bool finished = false) {
  jobpb::Allocation a;
  a.set_id("d." + job + "." + std::to_string(slot) + ".1");
  a.set_job(job);
  a.set_namespace_("d");
  a.set_node(node);
  a.set_desired_state(jobpb::Allocation::RUN);
  a.mutable_resources()->set_cpu_millicores(cpu);
  if (!node.empty()) a.add_ports()->set_port(20000 + slot);
  if (finished) a.mutable_outcome()->set_state(jobpb::AllocOutcome::SUCCEEDED);
  return a.SerializeAsString();
}

class MirrorTest : public ::testing::Test {
 protected:
  void Put(const std::string& k, const std::string& v) {
    s_.Apply({false, k, v, ++rev_});
  }
  void Del(const std::string& k) { s_.Apply({true, k, "", ++rev_}); }
  std::vector<JobId> Take() { return s_.dirty().Take(kT0).jobs; }
  int64_t Cpu(const std::string& node) {
    return s_.node_index().Find(node)->node.allocated().cpu_millicores();
  }

  ClusterState s_;
  int64_t rev_ = 1;
};

TEST_F(MirrorTest, ResetMarksEveryJob) {
  s_.Reset(StoreSnapshot{});
  EXPECT_TRUE(s_.dirty().Take(kT0).all);
}

TEST_F(MirrorTest, ChangesDirtyTheirJobOnly) {
  Put(NodeKey("n1"), NodeInfo("n1", 4000));
  Put(JobKey("d", "a"), jobpb::JobRecord().SerializeAsString());
  Put(SchedAllocKey("d.a.0.1"), Alloc("a", 0, "n1", 500));
  Put(SchedAllocKey("d.b.0.1"), Alloc("b", 0, "n1", 700));
  EXPECT_EQ(Take(), (std::vector<JobId>{{"d", "a"}, {"d", "b"}}));
  EXPECT_TRUE(Take().empty());

  agentpb::AllocationStatus st;
  st.set_state(agentpb::RUNNING);
  Put(StatusKey("d.a.0.1"), st.SerializeAsString());
  EXPECT_EQ(Take(), (std::vector<JobId>{{"d", "a"}}));
  Put(EventKey("d", "b", 1), jobpb::Event().SerializeAsString());
  EXPECT_TRUE(Take().empty()) << "events are the scheduler's own output";
}

TEST_F(MirrorTest, NodeIndexChargesAndReleases) {
  Put(NodeKey("n1"), NodeInfo("n1", 4000));
  Put(NodeKey("n2"), NodeInfo("n2", 4000));
  Put(SchedAllocKey("d.a.0.1"), Alloc("a", 0, "n1", 500));
  Put(SchedAllocKey("d.a.1.1"), Alloc("a", 1, "n1", 700));
  EXPECT_EQ(Cpu("n1"), 1200);
  EXPECT_EQ(s_.node_index().Find("n1")->node.used_ports_size(), 2);
  std::vector<const jobpb::Node*> order = s_.node_index().ByUtilization();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0]->name(), "n1") << "most utilized first";

  Put(SchedAllocKey("d.a.0.1"), Alloc("a", 0, "n1", 500, /*finished=*/true));
  EXPECT_EQ(Cpu("n1"), 700);
  Del(SchedAllocKey("d.a.1.1"));
  EXPECT_EQ(Cpu("n1"), 0);
  EXPECT_EQ(s_.node_index().Find("n1")->node.used_ports_size(), 0);

  // Charges outlive the registration: an agent restart keeps them.
  Put(SchedAllocKey("d.b.0.1"), Alloc("b", 0, "n2", 300));
  Del(NodeKey("n2"));
  EXPECT_EQ(s_.node_index().registered_count(), 1u);
  Put(NodeKey("n2"), NodeInfo("n2", 4000));
  EXPECT_EQ(Cpu("n2"), 300);
}

TEST_F(MirrorTest, NodeAndDrainChangesDirtyTheJobsConcerned) {
  Put(NodeKey("n1"), NodeInfo("n1", 4000));
  Put(NodeKey("n2"), NodeInfo("n2", 4000));
  Put(SchedAllocKey("d.a.0.1"), Alloc("a", 0, "n1", 500));
  Put(SchedAllocKey("d.b.0.1"), Alloc("b", 0, "n2", 500));
  Put(SchedAllocKey("d.p.0.1"), Alloc("p", 0, "", 500));  // unplaced
  Take();
  EXPECT_EQ(s_.pending_jobs().count({"d", "p"}), 1u);

  Put(DrainKey("n1"), "");
  EXPECT_EQ(Take(), (std::vector<JobId>{{"d", "a"}, {"d", "p"}}));
  EXPECT_TRUE(s_.node_index().Find("n1")->node.draining());
  Del(DrainKey("n1"));
  EXPECT_EQ(Take(), (std::vector<JobId>{{"d", "a"}, {"d", "p"}}));
  EXPECT_FALSE(s_.node_index().Find("n1")->node.draining());

  Del(NodeKey("n2"));
  EXPECT_EQ(Take(), (std::vector<JobId>{{"d", "b"}}));
  Put(NodeKey("n3"), NodeInfo("n3", 4000));
  EXPECT_EQ(Take(), (std::vector<JobId>{{"d", "p"}})) << "room appeared";
  // Capacity freed on n1 wakes the job waiting for room.
  Put(SchedAllocKey("d.a.0.1"), Alloc("a", 0, "n1", 500, /*finished=*/true));
  EXPECT_EQ(Take(), (std::vector<JobId>{{"d", "a"}, {"d", "p"}}));
  // Placing p removes it from the waiting jobs.
  Put(SchedAllocKey("d.p.0.1"), Alloc("p", 0, "n3", 500));
  EXPECT_EQ(s_.pending_jobs().count({"d", "p"}), 0u);
}

}  // namespace
}  // namespace berth::sched
