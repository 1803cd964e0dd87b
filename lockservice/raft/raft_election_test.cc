// Elections: §5.2, §5.4.1 and thesis §9.6 (pre-vote, check-quorum).
#include <gtest/gtest.h>

#include "lockservice/raft/raft_test_util.h"

namespace berth::raft {
namespace {

using testing::Network;

// §5.2 election safety: at most one leader per term, and everyone follows it.
TEST(RaftElection, TimeoutElectsExactlyOneLeader) {
  Network net(5);
  uint64_t leader = kNone;
  for (int i = 0; i < 100 && leader == kNone; ++i) {
    net.TickAll();
    leader = net.Leader();
  }
  ASSERT_NE(leader, kNone);
  const uint64_t term = net.raft(leader).term();
  for (uint64_t id : net.ids()) {
    if (id == leader) continue;
    EXPECT_NE(net.raft(id).role(), Role::kLeader);
    EXPECT_EQ(net.raft(id).term(), term);
    EXPECT_EQ(net.raft(id).lead(), leader);
  }
}

// §5.2: election timeouts are randomized in [election_tick, 2*election_tick).
TEST(RaftElection, RandomizedTimeoutWithinRange) {
  std::set<int> seen;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Network net(1, [seed](Config& c) { c.seed = seed; });
    const int t = net.raft(1).randomized_election_timeout();
    EXPECT_GE(t, 10);
    EXPECT_LT(t, 20);
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 1u);
}

// Determinism: same seed and inputs give the same leader and term.
TEST(RaftElection, SameSeedSameOutcome) {
  auto run = [] {
    Network net(5, [](Config& c) { c.seed = 7; });
    while (net.Leader() == kNone) net.TickAll();
    return std::make_pair(net.Leader(), net.raft(net.Leader()).term());
  };
  EXPECT_EQ(run(), run());
}

// §5.4.1 election restriction: a candidate whose log lacks committed
// entries cannot win.
TEST(RaftElection, VoteRejectedForStaleLog) {
  Network net(3, [](Config& c) {
    c.pre_vote = false;
    c.check_quorum = false;
  });
  ASSERT_EQ(net.Elect(1), 1u);
  net.Isolate(3);
  ASSERT_TRUE(net.raft(1).Propose("a").ok());
  ASSERT_TRUE(net.raft(1).Propose("b").ok());
  net.Stabilize();
  ASSERT_EQ(net.node(2).applied_data.size(), 2u);
  net.Heal();
  net.Isolate(1);
  ASSERT_TRUE(net.raft(3).Campaign().ok());
  net.Stabilize();
  EXPECT_NE(net.raft(3).role(), Role::kLeader);
  // The up-to-date node can still win with the stale node's vote.
  ASSERT_TRUE(net.raft(2).Campaign().ok());
  net.Stabilize();
  EXPECT_EQ(net.raft(2).role(), Role::kLeader);
}

// Thesis §9.6 pre-vote: a partitioned node that rejoins does not bump the
// term or depose a healthy leader.
TEST(RaftElection, PreVotePreventsDisruptionByRejoiningNode) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  const uint64_t term = net.raft(1).term();
  net.Isolate(3);
  net.TickAll(100);  // node 3 keeps timing out alone
  EXPECT_EQ(net.raft(3).term(), term);
  EXPECT_EQ(net.raft(3).role(), Role::kPreCandidate);
  net.Heal();
  net.TickAll(50);
  EXPECT_EQ(net.Leader(), 1u);
  EXPECT_EQ(net.raft(1).term(), term);
  EXPECT_EQ(net.raft(3).lead(), 1u);
}

// Without pre-vote the same scenario disrupts the leader: the contrast shows
// the previous test checks something real.
TEST(RaftElection, WithoutPreVoteRejoiningNodeBumpsTerm) {
  Network net(3, [](Config& c) { c.pre_vote = false; });
  ASSERT_EQ(net.Elect(1), 1u);
  const uint64_t term = net.raft(1).term();
  net.Isolate(3);
  net.TickAll(100);
  EXPECT_GT(net.raft(3).term(), term);
  net.Heal();
  net.TickAll(50);
  EXPECT_GT(net.raft(net.Leader()).term(), term);
}

// Thesis §9.6 check-quorum: an isolated leader steps down within an election
// timeout or two.
TEST(RaftElection, CheckQuorumLeaderStepsDown) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  net.Isolate(1);
  for (int i = 0; i < 2 * 10 + 1; ++i) net.TickAll();
  EXPECT_EQ(net.raft(1).role(), Role::kFollower);
  // The majority side elected someone else.
  const uint64_t leader = net.Leader();
  EXPECT_TRUE(leader == 2 || leader == 3);
}

// Thesis §9.6 leader lease for votes: a follower that hears from its leader
// ignores a vote request with a higher term (and keeps its term).
TEST(RaftElection, FollowerWithLiveLeaderIgnoresVoteRequests) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  const uint64_t term = net.raft(2).term();
  raftpb::Message m;
  m.set_type(raftpb::MSG_VOTE);
  m.set_from(3);
  m.set_to(2);
  m.set_term(term + 5);
  m.set_index(100);
  m.set_log_term(term + 4);
  ASSERT_TRUE(net.raft(2).Step(m).ok());
  EXPECT_EQ(net.raft(2).term(), term);
  EXPECT_EQ(net.raft(2).vote(), 1u);
  EXPECT_FALSE(net.raft(2).HasReady());
}

// §5.2: a single voter elects itself immediately.
TEST(RaftElection, SingleNodeBecomesLeader) {
  Network net(1);
  EXPECT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(net.raft(1).Propose("x").ok());
  net.Stabilize();
  EXPECT_EQ(net.node(1).applied_data, std::vector<std::string>{"x"});
}

// Local-only message types are refused by Step with a clear error.
TEST(RaftElection, StepRejectsLocalMessages) {
  Network net(1);
  raftpb::Message m;
  m.set_type(raftpb::MSG_HUP);
  absl::Status s = net.raft(1).Step(m);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("MSG_HUP"), std::string::npos);
}

}  // namespace
}  // namespace berth::raft
