#include <string>

#include "gtest/gtest.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"
#include "scheduler/state/pack.h"

namespace berth::sched {
namespace {

TEST(KeysTest, EveryKeyParsesBackToWhatBuiltIt) {
  KeyRef r = ParseKey(JobKey("prod", "web"));
  EXPECT_EQ(r.type, KeyRef::Type::kJob);
  EXPECT_EQ(r.ns, "prod");
  EXPECT_EQ(r.job, "web");
  r = ParseKey(AgentAllocKey("n1", SlotAllocId("prod", "web", 2, 7)));
  EXPECT_EQ(r.type, KeyRef::Type::kAgentAlloc);
  EXPECT_EQ(r.node, "n1");
  EXPECT_EQ(r.alloc_id, "prod.web.2.7");
  r = ParseKey(CronRunKey("d", "nightly", 1700000000));
  EXPECT_EQ(r.type, KeyRef::Type::kCronRun);
  EXPECT_EQ(r.tick_unix, 1700000000);
  EXPECT_EQ(ParseKey(CronMarkerKey("d", "j")).type, KeyRef::Type::kCronMarker);
  r = ParseKey(EventKey("d", "j", 42));
  EXPECT_EQ(r.type, KeyRef::Type::kEvent);
  EXPECT_EQ(r.seq, 42);
  EXPECT_EQ(ParseKey("/berth/jobs/only-ns").type, KeyRef::Type::kOther);
  EXPECT_EQ(ParseKey("/elsewhere/jobs/a/b").type, KeyRef::Type::kOther);
  EXPECT_EQ(ParseKey("/berth/cron/d/j/runs/notanumber").type,
            KeyRef::Type::kOther);
}

TEST(KeysTest, CronRunKeysSortByTick) {
  EXPECT_LT(CronRunKey("d", "j", 999), CronRunKey("d", "j", 1000));
}

class MemStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_.SetFence("L", 5); }
  MemStore store_;
  Fence fence_{"L", 5};
};

TEST_F(MemStoreTest, StaleFenceIsRefusedAndNothingIsWritten) {
  StoreTxn txn;
  txn.ops.push_back(StoreOp::Put("/berth/x", "1"));
  absl::StatusOr<CommitResult> r = store_.Commit(txn, Fence{"L", 4});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("token 4"), std::string::npos);
  EXPECT_EQ(store_.size(), 0u);
  ASSERT_TRUE(store_.Commit(txn, fence_).ok());
  EXPECT_EQ(store_.size(), 1u);
}

TEST_F(MemStoreTest, ConditionsGateTheWholeTransaction) {
  StoreTxn create;
  create.conds.push_back(StoreCond::Absent("/berth/a"));
  create.ops.push_back(StoreOp::Put("/berth/a", "1"));
  create.ops.push_back(StoreOp::Put("/berth/b", "1"));
  absl::StatusOr<CommitResult> first = store_.Commit(create, fence_);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->succeeded);
  absl::StatusOr<CommitResult> second = store_.Commit(create, fence_);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->succeeded);
  StoreTxn cas;
  cas.conds.push_back(StoreCond::ModRevision("/berth/a", first->revision));
  cas.ops.push_back(StoreOp::Put("/berth/a", "2"));
  absl::StatusOr<CommitResult> third = store_.Commit(cas, fence_);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->succeeded);
  EXPECT_FALSE(store_.Commit(cas, fence_)->succeeded);
}

TEST_F(MemStoreTest, TooManyOperationsIsInvalidArgument) {
  StoreTxn txn;
  for (int i = 0; i <= MemStore::kMaxTxnOps; ++i) {
    txn.ops.push_back(StoreOp::Put("/berth/k" + std::to_string(i), ""));
  }
  EXPECT_EQ(store_.Commit(txn, fence_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MemStoreTest, WatchReplaysFromRevisionAndReportsCompaction) {
  StoreTxn txn;
  txn.ops.push_back(StoreOp::Put("/berth/jobs/d/a", "x"));
  int64_t rev = store_.Commit(txn, fence_)->revision;
  txn.ops = {StoreOp::Put("/other", "y"), StoreOp::Delete("/berth/jobs/d/a")};
  store_.Commit(txn, fence_).IgnoreError();
  absl::StatusOr<std::unique_ptr<StoreWatch>> w = store_.Watch("/berth/", rev);
  ASSERT_TRUE(w.ok());
  absl::StatusOr<std::vector<StoreEvent>> ev = (*w)->Next(absl::ZeroDuration());
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_FALSE((*ev)[0].deleted);
  EXPECT_TRUE((*ev)[1].deleted);
  EXPECT_TRUE((*w)->Next(absl::ZeroDuration())->empty());
  store_.Compact(rev);
  EXPECT_EQ(store_.Watch("/berth/", rev).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(MemStoreTest, FailAfterApplyAppliesButReportsUnavailable) {
  store_.FailAfterApply(1);
  StoreTxn txn;
  txn.ops.push_back(StoreOp::Put("/berth/a", "1"));
  EXPECT_EQ(store_.Commit(txn, fence_).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_.size(), 1u);
}

TEST(PackTxnsTest, PacksInOrderWithoutSplittingAChange) {
  std::vector<StoreTxn> changes(5);
  for (int i = 0; i < 5; ++i) {
    changes[i].conds.push_back(StoreCond::Absent("/c" + std::to_string(i)));
    changes[i].ops.push_back(StoreOp::Put("/k" + std::to_string(i), ""));
    changes[i].ops.push_back(StoreOp::Put("/v" + std::to_string(i), ""));
  }
  std::vector<StoreTxn> packed = PackTxns(changes, 7);
  ASSERT_EQ(packed.size(), 3u);  // 2 + 2 + 1 changes of 3 entries each
  EXPECT_EQ(packed[0].ops.size() + packed[0].conds.size(), 6u);
  EXPECT_EQ(packed[2].ops.front().key, "/k4");
  EXPECT_EQ(packed[1].conds.front().key, "/c2");
  EXPECT_TRUE(PackTxns({}).empty());
}

TEST(ClusterStateTest, MirrorsPutsDeletesAndSkipsCorruptRecords) {
  MemStore store;
  jobpb::JobRecord rec;
  rec.mutable_job()->set_name("web");
  rec.set_version(3);
  jobpb::Allocation alloc;
  alloc.set_id("d.web.0.1");
  alloc.set_job("web");
  alloc.set_namespace_("d");
  StoreTxn txn;
  txn.ops = {
      StoreOp::Put(JobKey("d", "web"), rec.SerializeAsString()),
      StoreOp::Put(SchedAllocKey("d.web.0.1"), alloc.SerializeAsString()),
      StoreOp::Put(JobKey("d", "bad"), "\xff\xff not a proto"),
      StoreOp::Put(AgentAllocKey("n1", "d.web.0.1"), "")};
  ASSERT_TRUE(store.Commit(txn, Fence{}).ok());
  ClusterState state;
  state.Reset(*store.Load("/berth/"));
  ASSERT_NE(state.FindJob({"d", "web"}), nullptr);
  EXPECT_EQ(state.FindJob({"d", "web"})->version(), 3);
  EXPECT_EQ(state.FindJob({"d", "bad"}), nullptr);
  EXPECT_EQ(state.corrupt_records(), 1);
  EXPECT_EQ(state.AllocsOf({"d", "web"}),
            std::vector<std::string>{"d.web.0.1"});
  EXPECT_EQ(state.agent_allocs().at("n1").count("d.web.0.1"), 1u);

  auto w = store.Watch("/berth/", state.revision() + 1);
  ASSERT_TRUE(w.ok());
  txn.ops = {StoreOp::Delete(SchedAllocKey("d.web.0.1")),
             StoreOp::Delete(AgentAllocKey("n1", "d.web.0.1"))};
  ASSERT_TRUE(store.Commit(txn, Fence{}).ok());
  absl::StatusOr<std::vector<StoreEvent>> events =
      (*w)->Next(absl::ZeroDuration());
  ASSERT_TRUE(events.ok());
  for (const StoreEvent& e : *events) state.Apply(e);
  EXPECT_TRUE(state.AllocsOf({"d", "web"}).empty());
  EXPECT_EQ(state.agent_allocs().count("n1"), 0u);
  EXPECT_EQ(state.revision(), store.revision());
}

// The by-job hash index (FindJobRefs) agrees with the ordered maps, and a
// change to anything of a job moves its changed_revision past what a
// decision made before it read.
TEST(ClusterStateTest, JobRefsFollowEveryChangeToAJob) {
  ClusterState state;
  int64_t rev = 0;
  auto put = [&](const std::string& key, const std::string& value) {
    state.Apply(StoreEvent{false, key, value, ++rev});
  };
  auto del = [&](const std::string& key) {
    state.Apply(StoreEvent{true, key, "", ++rev});
  };
  const JobId j{"d", "nightly"};
  EXPECT_EQ(state.FindJobRefs(j).record, nullptr);
  jobpb::JobRecord rec;
  rec.mutable_job()->set_name("nightly");
  put(JobKey("d", "nightly"), rec.SerializeAsString());
  ClusterState::JobRefs r = state.FindJobRefs(j);
  ASSERT_NE(r.record, nullptr);
  EXPECT_EQ(&r.record->value, state.FindJob(j));
  EXPECT_EQ(r.marker, nullptr);
  EXPECT_EQ(r.runs, nullptr);
  EXPECT_EQ(r.changed_revision, rev);

  jobpb::CronMarker m;
  m.set_last_scheduled_unix(100);
  put(CronMarkerKey("d", "nightly"), m.SerializeAsString());
  jobpb::CronRun run;
  run.set_alloc_id("cron.d.nightly.100");
  put(CronRunKey("d", "nightly", 100), run.SerializeAsString());
  r = state.FindJobRefs(j);
  ASSERT_NE(r.marker, nullptr);
  EXPECT_EQ(r.marker, &state.cron_markers().at(j));
  ASSERT_NE(r.runs, nullptr);
  EXPECT_EQ(r.runs, &state.cron_runs().at(j));
  EXPECT_EQ(r.changed_revision, rev);

  // The job's allocation and its status are the job's too.
  jobpb::Allocation a;
  a.set_id("cron.d.nightly.100");
  a.set_job("nightly");
  a.set_namespace_("d");
  const int64_t before = rev;
  put(SchedAllocKey(a.id()), a.SerializeAsString());
  EXPECT_GT(state.FindJobRefs(j).changed_revision, before);
  agentpb::AllocationStatus st;
  st.set_alloc_id(a.id());
  st.set_state(agentpb::EXITED);
  put(StatusKey(a.id()), st.SerializeAsString());
  EXPECT_EQ(state.FindJobRefs(j).changed_revision, rev);
  del(StatusKey(a.id()));
  EXPECT_EQ(state.FindJobRefs(j).changed_revision, rev);
  // Another job's records do not touch this one.
  const int64_t mine = rev;
  put(JobKey("d", "other"), rec.SerializeAsString());
  EXPECT_EQ(state.FindJobRefs(j).changed_revision, mine);

  del(CronRunKey("d", "nightly", 100));
  r = state.FindJobRefs(j);
  EXPECT_EQ(r.runs, nullptr);
  EXPECT_EQ(r.changed_revision, rev);
  del(CronMarkerKey("d", "nightly"));
  del(JobKey("d", "nightly"));
  r = state.FindJobRefs(j);
  EXPECT_EQ(r.record, nullptr);
  EXPECT_EQ(r.marker, nullptr);
  EXPECT_EQ(state.FindJob(j), nullptr);

  // A reload rebuilds the index from the snapshot.
  MemStore store;
  StoreTxn txn;
  txn.ops = {StoreOp::Put(JobKey("d", "nightly"), rec.SerializeAsString())};
  ASSERT_TRUE(store.Commit(txn, Fence{}).ok());
  state.Reset(*store.Load("/berth/"));
  ASSERT_NE(state.FindJobRefs(j).record, nullptr);
  EXPECT_EQ(state.FindJobRefs({"d", "other"}).record, nullptr);
}

}  // namespace
}  // namespace berth::sched
