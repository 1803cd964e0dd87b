// Membership (thesis §4.1, §4.2.1), leadership transfer (thesis §3.10) and
// ReadIndex (thesis §6.4).
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "lockservice/raft/raft_test_util.h"

namespace berth::raft {
namespace {

using testing::MakeConfChange;
using testing::Network;

bool HasVoter(const raftpb::ConfState& cs, uint64_t id) {
  for (uint64_t v : cs.voters()) {
    if (v == id) return true;
  }
  return false;
}
bool HasLearner(const raftpb::ConfState& cs, uint64_t id) {
  for (uint64_t v : cs.learners()) {
    if (v == id) return true;
  }
  return false;
}

// Thesis §4.2.1: a new server joins as a learner, catches up without
// voting, then is promoted; the change takes effect when applied.
TEST(RaftMembership, AddLearnerThenPromote) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.raft(1).Propose("m").ok());
  net.Stabilize();
  net.AddEmptyNode(4);
  ASSERT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_LEARNER, 4))
          .ok());
  net.Stabilize();
  net.TickAll(2);
  for (uint64_t id : {1, 2, 3, 4}) {
    EXPECT_TRUE(HasLearner(net.raft(id).GetStatus().conf_state, 4)) << id;
  }
  EXPECT_EQ(net.node(4).applied_data, net.node(1).applied_data);
  // A learner never campaigns.
  net.Isolate(4);
  net.Tick(4, 100);
  EXPECT_EQ(net.raft(4).role(), Role::kFollower);
  net.Heal();
  ASSERT_TRUE(net.raft(1)
                  .ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_VOTER, 4))
                  .ok());
  net.Stabilize();
  for (uint64_t id : {1, 2, 3, 4}) {
    EXPECT_TRUE(HasVoter(net.raft(id).GetStatus().conf_state, 4)) << id;
  }
  // Four voters: commits need three acks; with two down nothing commits.
  net.Isolate(3);
  net.Isolate(4);
  const uint64_t committed = net.raft(1).raft_log().committed();
  ASSERT_TRUE(net.raft(1).Propose("needs-quorum-of-3").ok());
  net.Stabilize();
  EXPECT_EQ(net.raft(1).raft_log().committed(), committed);
}

// Thesis §4.1: only one membership change may be pending at a time.
TEST(RaftMembership, OnlyOnePendingConfChange) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  net.AddEmptyNode(4);
  net.AddEmptyNode(5);
  ASSERT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_LEARNER, 4))
          .ok());
  absl::Status s = net.raft(1).ProposeConfChange(
      MakeConfChange(raftpb::CONF_ADD_LEARNER, 5));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("pending"), std::string::npos);
  net.Stabilize();
  // Once applied, the next change is accepted.
  EXPECT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_LEARNER, 5))
          .ok());
}

// Invalid changes are rejected with errors naming the problem.
TEST(RaftMembership, InvalidChangesRejected) {
  Network one(1);
  ASSERT_EQ(one.Elect(1), 1u);
  absl::Status s = one.raft(1).ProposeConfChange(
      MakeConfChange(raftpb::CONF_REMOVE_NODE, 1));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("last voter"), std::string::npos);
  s = one.raft(1).ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_VOTER, 1));
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  s = one.raft(1).ProposeConfChange(
      MakeConfChange(raftpb::CONF_REMOVE_NODE, 9));
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

// Thesis §4.1: removing a follower shrinks the quorum.
TEST(RaftMembership, RemoveFollower) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_REMOVE_NODE, 3))
          .ok());
  net.Stabilize();
  EXPECT_FALSE(HasVoter(net.raft(1).GetStatus().conf_state, 3));
  EXPECT_EQ(net.raft(1).GetStatus().progress.count(3), 0u);
  net.Isolate(3);
  ASSERT_TRUE(net.raft(1).Propose("two-node").ok());
  net.Stabilize();
  EXPECT_EQ(net.node(2).applied_data.back(), "two-node");
}

// Thesis §4.2.2: a leader that removes itself steps down once the change is
// applied, and the remaining servers elect a new leader.
TEST(RaftMembership, RemoveLeader) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_REMOVE_NODE, 1))
          .ok());
  net.Stabilize();
  EXPECT_NE(net.raft(1).role(), Role::kLeader);
  EXPECT_FALSE(HasVoter(net.raft(2).GetStatus().conf_state, 1));
  uint64_t leader = kNone;
  for (int i = 0; i < 100 && (leader == kNone || leader == 1); ++i) {
    net.TickAll();
    leader = net.Leader();
  }
  ASSERT_TRUE(leader == 2 || leader == 3) << leader;
  ASSERT_TRUE(net.raft(leader).Propose("after-removal").ok());
  net.Stabilize();
  EXPECT_EQ(net.node(2).applied_data.back(), "after-removal");
  EXPECT_EQ(net.node(3).applied_data.back(), "after-removal");
}

// Restart re-derives membership from storage plus applied conf changes.
TEST(RaftMembership, RestartKeepsMembership) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  net.AddEmptyNode(4);
  ASSERT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_LEARNER, 4))
          .ok());
  net.Stabilize();
  net.Restart(2);
  EXPECT_TRUE(HasLearner(net.raft(2).GetStatus().conf_state, 4));
}

std::vector<uint64_t> Voters(const raftpb::ConfState& cs) {
  std::vector<uint64_t> v(cs.voters().begin(), cs.voters().end());
  std::sort(v.begin(), v.end());
  return v;
}

// Grows {1,2,3} into {1,2,4}: node 4 joins with empty storage as a learner,
// is promoted, and node 3 is removed. `leader` leads throughout.
void ReplaceNode3WithJoiner4(Network& net, uint64_t leader = 1) {
  net.AddEmptyNode(4);
  for (const auto& [type, id] : {std::pair{raftpb::CONF_ADD_LEARNER, 4},
                                 {raftpb::CONF_ADD_VOTER, 4},
                                 {raftpb::CONF_REMOVE_NODE, 3}}) {
    ASSERT_TRUE(
        net.raft(leader).ProposeConfChange(MakeConfChange(type, id)).ok())
        << id;
    net.Stabilize();
  }
}

// Thesis §4.1: a joining server learns the configuration before it can vote
// or commit. The bootstrap voters live only in the index-0 snapshot
// metadata, and the leader's log still starts at index 1, so the joiner is
// sent the log rather than a snapshot; the leader must hand it the
// bootstrap membership along with it. Otherwise the joiner believes it is
// the only voter, and cut off from the others it elects itself and commits
// alone (the simulator's leader-completeness violation).
TEST(RaftMembership, JoiningServerLearnsConfigurationBeforeItCanVoteOrCommit) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(net.raft(1).Propose("m").ok());
  net.Stabilize();
  ASSERT_EQ(net.raft(1).raft_log().FirstIndex(), 1u);
  ReplaceNode3WithJoiner4(net);
  const std::vector<uint64_t> want = {1, 2, 4};
  EXPECT_EQ(Voters(net.raft(1).GetStatus().conf_state), want);
  EXPECT_EQ(Voters(net.raft(4).GetStatus().conf_state), want);

  net.Isolate(4);
  const uint64_t committed = net.raft(4).raft_log().committed();
  EXPECT_TRUE(net.raft(4).Campaign().ok());
  net.Tick(4, 100);
  net.Stabilize();
  EXPECT_NE(net.raft(4).role(), Role::kLeader);
  EXPECT_EQ(net.raft(4).raft_log().committed(), committed);

  // The membership was persisted with the log: it survives a restart.
  net.Restart(4);
  EXPECT_EQ(Voters(net.raft(4).GetStatus().conf_state), want);
}

// Thesis §4.1 with §7: a leader whose storage snapshot moved past index 0
// while the log still starts at index 1 (a snapshot with a retention window)
// no longer has the bootstrap membership once it restarts; a joiner needing
// index 1 then gets that snapshot, and its membership, instead.
TEST(RaftMembership, JoinerGetsSnapshotWhenBootstrapMembershipIsSuperseded) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(net.raft(1).Propose("m").ok());
  net.Stabilize();
  // Node 2 snapshots without compacting, restarts (forgetting what it
  // cached), and takes over as leader.
  const uint64_t snap_index = net.node(2).applied;
  ASSERT_TRUE(net.node(2)
                  .storage
                  ->CreateSnapshot(snap_index,
                                   net.raft(2).GetStatus().conf_state,
                                   /*data=*/"image", /*compact_to=*/0)
                  .ok());
  net.Restart(2);
  ASSERT_TRUE(net.raft(1).TransferLeadership(2).ok());
  net.Stabilize();
  ASSERT_EQ(net.Leader(), 2u);
  ASSERT_EQ(net.raft(2).raft_log().FirstIndex(), 1u);
  ReplaceNode3WithJoiner4(net, /*leader=*/2);
  EXPECT_EQ(net.node(4).storage->GetSnapshot()->metadata().index(), snap_index);
  EXPECT_EQ(net.node(4).storage->GetSnapshot()->data(), "image");
  EXPECT_EQ(net.node(4).snapshots_installed, 1);
  const std::vector<uint64_t> want = {1, 2, 4};
  EXPECT_EQ(Voters(net.raft(4).GetStatus().conf_state), want);
}

// A node that never learned the configuration its log starts from does not
// campaign, even if its log says it was made a voter: it cannot know the
// quorum. (A leader without the bootstrap membership could produce this.)
TEST(RaftMembership, NodeWithoutBaseConfigurationNeverCampaigns) {
  MemoryStorage storage;
  Config c;
  c.id = 5;
  c.storage = &storage;
  absl::StatusOr<std::unique_ptr<RaftImpl>> r = RaftImpl::New(c);
  ASSERT_TRUE(r.ok()) << r.status();
  RaftImpl& raft = **r;
  raftpb::Message app;
  app.set_type(raftpb::MSG_APP);
  app.set_from(1);
  app.set_to(5);
  app.set_term(1);
  app.set_commit(1);
  raftpb::Entry* e = app.add_entries();
  e->set_term(1);
  e->set_index(1);
  e->set_type(raftpb::ENTRY_CONF_CHANGE);
  e->set_data(MakeConfChange(raftpb::CONF_ADD_VOTER, 5).SerializeAsString());
  ASSERT_TRUE(raft.Step(app).ok());
  Ready rd = raft.GetReady();
  ASSERT_TRUE(
      storage
          .Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries, nullptr)
          .ok());
  raft.Advance(rd);
  // Committed entries are handed out once they are durable here: in the
  // next Ready.
  ASSERT_TRUE(rd.committed_entries.empty());
  rd = raft.GetReady();
  raft.Advance(rd);
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(Voters(raft.GetStatus().conf_state), std::vector<uint64_t>{5});

  absl::Status s = raft.Campaign();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("membership"), std::string::npos) << s;
  for (int i = 0; i < 100; ++i) raft.Tick();
  EXPECT_EQ(raft.role(), Role::kFollower);
  EXPECT_EQ(raft.raft_log().committed(), 1u);
}

// Thesis §3.10: the leader brings the target up to date and sends
// TimeoutNow; the target wins at once, skipping pre-vote and leases.
TEST(RaftTransfer, LeadershipTransferSucceeds) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  const uint64_t term = net.raft(1).term();
  net.Isolate(3);
  ASSERT_TRUE(net.raft(1).Propose("x").ok());
  net.Stabilize();
  net.Heal();
  ASSERT_TRUE(net.raft(1).TransferLeadership(3).ok());
  net.Stabilize();
  EXPECT_EQ(net.Leader(), 3u);
  EXPECT_EQ(net.raft(3).term(), term + 1);
  EXPECT_EQ(net.raft(1).lead(), 3u);
}

// A transfer requested on a follower is forwarded to the leader.
TEST(RaftTransfer, FollowerForwardsTransferRequest) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(net.raft(2).TransferLeadership(2).ok());
  net.Stabilize();
  EXPECT_EQ(net.Leader(), 2u);
}

// Thesis §3.10: proposals are refused during a transfer, and a transfer to
// an unreachable server is abandoned after an election timeout.
TEST(RaftTransfer, AbortOnUnreachableTransferee) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  net.Isolate(3);
  ASSERT_TRUE(net.raft(1).Propose("behind").ok());
  net.Stabilize();
  ASSERT_TRUE(net.raft(1).TransferLeadership(3).ok());
  EXPECT_EQ(net.raft(1).GetStatus().lead_transferee, 3u);
  EXPECT_TRUE(absl::IsFailedPrecondition(net.raft(1).Propose("refused")));
  net.TickAll(10);
  EXPECT_EQ(net.raft(1).GetStatus().lead_transferee, kNone);
  EXPECT_EQ(net.Leader(), 1u);
  EXPECT_TRUE(net.raft(1).Propose("accepted").ok());
  net.Stabilize();
  EXPECT_EQ(net.node(2).applied_data.back(), "accepted");
}

TEST(RaftTransfer, LearnerTargetRejected) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  net.AddEmptyNode(4);
  ASSERT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_LEARNER, 4))
          .ok());
  net.Stabilize();
  EXPECT_TRUE(absl::IsFailedPrecondition(net.raft(1).TransferLeadership(4)));
}

// Thesis §6.4: no read point before the leader commits an entry of its own
// term; afterwards the answer comes after a quorum heartbeat round.
TEST(RaftReadIndex, WaitsForNoopCommitThenQuorum) {
  Network net(3);
  // Withhold acks so the new leader cannot commit its no-op.
  net.SetDropFilter([](const raftpb::Message& m) {
    return m.type() == raftpb::MSG_APP_RESP ||
           m.type() == raftpb::MSG_HEARTBEAT_RESP;
  });
  ASSERT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(net.raft(1).ReadIndex("r1").ok());
  net.Stabilize();
  EXPECT_TRUE(net.node(1).read_states.empty());
  net.Heal();
  net.TickAll(2);
  ASSERT_EQ(net.node(1).read_states.size(), 1u);
  EXPECT_EQ(net.node(1).read_states[0].request_ctx, "r1");
  // Nothing but the no-op was ever written, so the read point is its index.
  EXPECT_EQ(net.node(1).read_states[0].index,
            net.raft(1).raft_log().committed());
}

// Thesis §6.4: without a quorum of heartbeat acks there is no answer.
TEST(RaftReadIndex, NoAnswerWithoutQuorum) {
  Network net(3, [](Config& c) { c.check_quorum = false; });
  ASSERT_EQ(net.Elect(1), 1u);
  net.Isolate(1);
  ASSERT_TRUE(net.raft(1).ReadIndex("r").ok());
  net.TickAll(5);
  EXPECT_TRUE(net.node(1).read_states.empty());
  net.Heal();
  net.TickAll(1);
  ASSERT_EQ(net.node(1).read_states.size(), 1u);
}

// Thesis §6.4: a follower forwards the request and gets the leader's index.
TEST(RaftReadIndex, FollowerForwardsToLeader) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(net.raft(1).Propose("w").ok());
  net.Stabilize();
  ASSERT_TRUE(net.raft(2).ReadIndex("f").ok());
  net.Stabilize();
  ASSERT_EQ(net.node(2).read_states.size(), 1u);
  EXPECT_EQ(net.node(2).read_states[0].request_ctx, "f");
  EXPECT_EQ(net.node(2).read_states[0].index,
            net.raft(1).raft_log().committed());
}

// A single voter answers at once (after its no-op commits).
TEST(RaftReadIndex, SingleNodeAnswersImmediately) {
  Network net(1);
  ASSERT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(net.raft(1).ReadIndex("s").ok());
  net.Stabilize();
  ASSERT_EQ(net.node(1).read_states.size(), 1u);
  EXPECT_EQ(net.node(1).read_states[0].index, 1u);
}

// Thesis §4.2.1: a learner may already be a voter through an entry it has
// not applied yet, so it must answer vote requests; the candidate counts only
// votes from its own voters. Refusing wedged a cluster in berth-raft-sim
// (seed 8934, 3 nodes): the only remaining voter that could complete a quorum
// still believed it was a learner.
TEST(RaftMembership, LearnerAnswersVoteRequests) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  net.AddEmptyNode(4);
  ASSERT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_LEARNER, 4))
          .ok());
  net.Stabilize();
  ASSERT_TRUE(HasLearner(net.raft(4).GetStatus().conf_state, 4));
  // Let the learner's leader lease run out so it considers votes at all.
  net.Isolate(4);
  net.Tick(4, 40);
  net.Heal();
  net.queue().clear();
  const Status st = net.raft(4).GetStatus();
  for (raftpb::MessageType type : {raftpb::MSG_PRE_VOTE, raftpb::MSG_VOTE}) {
    raftpb::Message m;
    m.set_type(type);
    m.set_from(2);
    m.set_to(4);
    m.set_term(st.hard_state.term() + 1);
    m.set_index(st.last_index);
    m.set_log_term(st.hard_state.term());
    ASSERT_TRUE(net.raft(4).Step(m).ok());
  }
  net.DrainReady();
  int granted = 0;
  for (const raftpb::Message& m : net.queue()) {
    if (m.from() == 4 && m.to() == 2 &&
        (m.type() == raftpb::MSG_PRE_VOTE_RESP ||
         m.type() == raftpb::MSG_VOTE_RESP) &&
        !m.reject()) {
      ++granted;
    }
  }
  EXPECT_EQ(granted, 2) << "the learner refused a vote it may owe";
}

}  // namespace
}  // namespace berth::raft
