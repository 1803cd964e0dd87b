// §7 InstallSnapshot, sent in chunks.
#include <gtest/gtest.h>

#include "lockservice/raft/raft_test_util.h"

namespace berth::raft {
namespace {

using testing::Network;

Network::ConfigFn SmallChunks() {
  return [](Config& c) { c.snapshot_chunk_bytes = 1000; };
}

// Builds a cluster where node 3 lags behind a compacted leader log.
void LagFollowerBehindSnapshot(Network& net) {
  ASSERT_EQ(net.Elect(1), 1u);
  net.Isolate(3);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(net.raft(1).Propose("s").ok());
  net.Stabilize();
  const uint64_t applied = net.node(1).applied;
  net.Compact(1, applied, 10'000);
  ASSERT_GT(net.raft(1).raft_log().FirstIndex(), 2u);
}

// §7: a follower whose next entry was compacted receives the snapshot in
// chunks, installs it, then continues from the log.
TEST(RaftSnapshot, LaggingFollowerGetsChunkedSnapshot) {
  Network net(3, SmallChunks());
  LagFollowerBehindSnapshot(net);
  int chunks = 0;
  net.SetObserver([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_SNAP && m.to() == 3) ++chunks;
  });
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(chunks, 10);
  EXPECT_EQ(net.node(3).snapshots_installed, 1);
  EXPECT_EQ(net.node(3).storage->GetSnapshot()->data(),
            net.node(1).storage->GetSnapshot()->data());
  ASSERT_TRUE(net.raft(1).Propose("after-snapshot").ok());
  net.Stabilize();
  EXPECT_EQ(net.node(3).applied_data.back(), "after-snapshot");
  EXPECT_EQ(net.raft(3).raft_log().LastIndex(),
            net.raft(1).raft_log().LastIndex());
  EXPECT_EQ(net.raft(1).GetStatus().progress.at(3).state, "replicate");
  // Membership came from the snapshot metadata.
  EXPECT_EQ(net.raft(3).GetStatus().conf_state.voters_size(), 3);
}

// §7 with loss: dropped chunks are resent after heartbeats without an ack,
// and the follower still assembles exactly the leader's snapshot.
TEST(RaftSnapshot, LostChunksAreRetried) {
  Network net(3, SmallChunks());
  LagFollowerBehindSnapshot(net);
  int n = 0;
  net.Heal();
  net.SetDropFilter([&](const raftpb::Message& m) {
    return m.type() == raftpb::MSG_SNAP && (++n % 3 == 0);
  });
  for (int i = 0; i < 60 && net.node(3).snapshots_installed == 0; ++i) {
    net.TickAll();
  }
  EXPECT_EQ(net.node(3).snapshots_installed, 1);
  EXPECT_EQ(net.node(3).storage->GetSnapshot()->data(),
            net.node(1).storage->GetSnapshot()->data());
  net.Heal();
  ASSERT_TRUE(net.raft(1).Propose("x").ok());
  net.Stabilize();
  EXPECT_EQ(net.node(3).applied_data.back(), "x");
}

// §7 with lost acks: duplicated chunks are acked without being appended twice.
TEST(RaftSnapshot, DuplicateChunksAreIgnored) {
  Network net(3, SmallChunks());
  LagFollowerBehindSnapshot(net);
  int n = 0;
  net.Heal();
  net.SetDropFilter([&](const raftpb::Message& m) {
    return m.type() == raftpb::MSG_SNAP_RESP && (++n % 2 == 0);
  });
  for (int i = 0; i < 60 && net.node(3).snapshots_installed == 0; ++i) {
    net.TickAll();
  }
  EXPECT_EQ(net.node(3).snapshots_installed, 1);
  EXPECT_EQ(net.node(3).storage->GetSnapshot()->data(),
            net.node(1).storage->GetSnapshot()->data());
}

// §7 across a leader change: a half-received snapshot from the old leader
// is discarded and the new leader's transfer completes.
TEST(RaftSnapshot, LeaderChangeMidTransfer) {
  Network net(3, SmallChunks());
  LagFollowerBehindSnapshot(net);
  net.Compact(2, net.node(2).applied, 5'000);
  int chunks = 0;
  net.Heal();
  // Let the old leader's transfer get a few chunks in, then cut it off.
  net.SetDropFilter([&](const raftpb::Message& m) {
    return m.type() == raftpb::MSG_SNAP && m.from() == 1 && ++chunks > 3;
  });
  net.TickAll(2);
  ASSERT_EQ(net.node(3).snapshots_installed, 0);
  ASSERT_TRUE(net.raft(1).TransferLeadership(2).ok());
  net.Stabilize();
  ASSERT_EQ(net.Leader(), 2u);
  for (int i = 0; i < 30 && net.node(3).snapshots_installed == 0; ++i) {
    net.TickAll();
  }
  EXPECT_EQ(net.node(3).snapshots_installed, 1);
  EXPECT_EQ(net.node(3).storage->GetSnapshot()->data(),
            net.node(2).storage->GetSnapshot()->data());
}

// ReportUnreachable during a transfer resends the current chunk.
TEST(RaftSnapshot, UnreachableRestartsChunk) {
  Network net(3, SmallChunks());
  LagFollowerBehindSnapshot(net);
  net.Heal();
  net.SetDropFilter(
      [](const raftpb::Message& m) { return m.type() == raftpb::MSG_SNAP; });
  net.TickAll(1);
  ASSERT_EQ(net.raft(1).GetStatus().progress.at(3).state, "snapshot");
  net.Heal();
  net.raft(1).ReportUnreachable(3);
  for (int i = 0; i < 10 && net.node(3).snapshots_installed == 0; ++i) {
    net.TickAll();
  }
  EXPECT_EQ(net.node(3).snapshots_installed, 1);
}

}  // namespace
}  // namespace berth::raft
