#include "tests/sim/sim_disk.h"

#include "gtest/gtest.h"

namespace berth::sim {
namespace {

raftpb::Entry E(uint64_t index, uint64_t term) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  return e;
}

TEST(SimDiskTest, CrashLosesOnlyUnsyncedBatches) {
  auto boot = raft::MemoryStorage::Bootstrap({1, 2, 3});
  ASSERT_TRUE(boot.ok()) << boot.status();
  SimDisk disk(**boot);
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_vote(2);
  ASSERT_TRUE(disk.Save(&hs, {E(1, 1), E(2, 1)}, nullptr).ok());
  ASSERT_TRUE(disk.Sync().ok());
  hs.set_term(2);
  ASSERT_TRUE(disk.Save(&hs, {E(3, 2)}, nullptr).ok());
  EXPECT_EQ(disk.LastIndex(), 3u);  // visible before the sync
  EXPECT_TRUE(disk.has_unsynced());
  disk.Crash();
  EXPECT_EQ(disk.LastIndex(), 2u);
  auto st = disk.GetInitialState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->hard_state.term(), 1u);
  EXPECT_EQ(st->conf_state.voters_size(), 3);
}

TEST(SimDiskTest, SnapshotIsRefusedWhileABatchIsUnsynced) {
  auto boot = raft::MemoryStorage::Bootstrap({1});
  ASSERT_TRUE(boot.ok());
  SimDisk disk(**boot);
  ASSERT_TRUE(disk.Save(nullptr, {E(1, 1), E(2, 1)}, nullptr).ok());
  raftpb::ConfState cs;
  cs.add_voters(1);
  EXPECT_EQ(disk.CreateSnapshot(1, cs, "img", 1).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(disk.Sync().ok());
  ASSERT_TRUE(disk.CreateSnapshot(2, cs, "img", 1).ok());
  disk.Crash();
  EXPECT_EQ(disk.FirstIndex(), 2u);
  auto snap = disk.GetSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata().index(), 2u);
  EXPECT_EQ(snap->data(), "img");
}

}  // namespace
}  // namespace berth::sim
