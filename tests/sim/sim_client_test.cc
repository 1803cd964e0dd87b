// The simulated clients route like the real client library: sticky to the
// leader they last heard of, moved only by a redirect, a timeout or an
// unreachable node, never by the simulator's view of who leads.
#include "tests/sim/sim_client.h"

#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace berth::sim {
namespace {

// Accepts everything at `accepting`; elsewhere refuses with a redirect to
// `redirect_to` (0 = "no leader"). Records where each attempt went.
class FakePort : public ClusterPort {
 public:
  absl::Status SubmitWrite(uint64_t node, uint64_t op_id, std::string payload,
                           LeaderHint* hint) override {
    return Attempt(node, op_id, hint);
  }
  absl::Status SubmitRead(uint64_t node, uint64_t op_id, const std::string& key,
                          LeaderHint* hint) override {
    return Attempt(node, op_id, hint);
  }

  absl::Status Attempt(uint64_t node, uint64_t op_id, LeaderHint* hint) {
    attempts.push_back(node);
    if (down.contains(node)) return absl::UnavailableError("down");
    if (accepting.contains(node)) {
      last_op = op_id;
      return absl::OkStatus();
    }
    *hint = LeaderHint{term, redirect_to};
    return absl::FailedPreconditionError("not the leader");
  }

  std::set<uint64_t> accepting;
  std::set<uint64_t> down;
  uint64_t redirect_to = 0;
  uint64_t term = 1;
  uint64_t last_op = 0;
  std::vector<uint64_t> attempts;
};

WorkloadOptions OneClient() {
  WorkloadOptions o;
  o.clients = 1;
  o.lazy_clients = 0;
  o.busy_start_probability = 1;
  o.min_timeout_ticks = 10;
  o.max_timeout_ticks = 10;
  return o;
}

TEST(SimClientTest, FollowsRedirectThenSticksToTheLeader) {
  std::mt19937_64 rng(1);
  Workload w(OneClient(), &rng);
  FakePort port;
  port.accepting = {3};
  port.redirect_to = 3;
  const std::vector<uint64_t> members = {1, 2, 3};
  w.Tick(0, members, port, true);
  // First try at member 1 (no leader known), redirected to 3.
  EXPECT_EQ(port.attempts, (std::vector<uint64_t>{1, 3}));
  ASSERT_EQ(w.history().size(), 1u);
  w.OnApplied(3, port.last_op, true, LeaderHint{1, 3});
  port.attempts.clear();
  // Node 3 is cut off and no longer leads, but nothing told the client:
  // its next call still goes to 3.
  w.Tick(1, members, port, true);
  EXPECT_EQ(port.attempts, (std::vector<uint64_t>{3}));
}

TEST(SimClientTest, TimeoutMovesToTheNextMember) {
  std::mt19937_64 rng(1);
  Workload w(OneClient(), &rng);
  FakePort port;
  port.accepting = {1, 2, 3};
  const std::vector<uint64_t> members = {1, 2, 3};
  w.Tick(0, members, port, true);
  ASSERT_EQ(port.attempts, (std::vector<uint64_t>{1}));
  // No answer within the 10-tick deadline: the op is unknown, the client
  // tries the next member.
  w.Tick(10, members, port, true);
  EXPECT_EQ(port.attempts, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(w.history()[0].outcome, Outcome::kUnknown);
}

TEST(SimClientTest, AnswerFromAnOlderTermDoesNotRedirect) {
  std::mt19937_64 rng(1);
  Workload w(OneClient(), &rng);
  FakePort port;
  port.accepting = {1, 2};
  const std::vector<uint64_t> members = {1, 2};
  w.Tick(0, members, port, true);
  w.OnApplied(1, port.last_op, true, LeaderHint{5, 2});  // leader 2, term 5
  w.Tick(1, members, port, true);
  ASSERT_EQ(port.attempts.back(), 2u);
  // A deposed leader's answer (term 4) naming itself must not pull the
  // client back.
  w.OnApplied(2, port.last_op, true, LeaderHint{4, 1});
  w.Tick(2, members, port, true);
  EXPECT_EQ(port.attempts.back(), 2u);
}

TEST(SimClientTest, UnreachableNodeIsSkippedWithinOneCall) {
  std::mt19937_64 rng(1);
  Workload w(OneClient(), &rng);
  FakePort port;
  port.accepting = {2};
  port.down = {1};
  w.Tick(0, {1, 2, 3}, port, true);
  EXPECT_EQ(port.attempts, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(w.history().size(), 1u);
}

// A partition cuts clients off too: one left with the isolated node keeps
// its answers; one on the far side loses the answer, times out and moves on.
TEST(SimClientTest, PartitionSplitsClientsBetweenTheSides) {
  int stayed = 0;
  int moved = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    Workload w(OneClient(), &rng);
    FakePort port;
    port.accepting = {1, 2, 3};
    const std::vector<uint64_t> members = {1, 2, 3};
    w.Tick(0, members, port, true);
    ASSERT_EQ(port.attempts, (std::vector<uint64_t>{1}));
    w.SplitClients({1}, members);
    w.OnApplied(1, port.last_op, true, LeaderHint{1, 1});
    port.attempts.clear();
    if (w.history()[0].outcome == Outcome::kOk) {
      ++stayed;  // still reaches node 1, and sticks to it
      w.Tick(1, members, port, true);
      EXPECT_EQ(port.attempts, (std::vector<uint64_t>{1}));
    } else {
      ++moved;  // the answer was lost: the op stays open until the deadline
      EXPECT_EQ(w.history()[0].outcome, Outcome::kUnknown);
      w.Tick(1, members, port, true);
      EXPECT_TRUE(port.attempts.empty());
      w.Tick(10, members, port, true);
      EXPECT_EQ(port.attempts, (std::vector<uint64_t>{2}));
      // Healed, node 1 is reachable again.
      w.HealClients();
      w.OnApplied(2, port.last_op, true, LeaderHint{2, 1});
      w.Tick(11, members, port, true);
      EXPECT_EQ(port.attempts.back(), 1u);
    }
  }
  EXPECT_GT(stayed, 0);
  EXPECT_GT(moved, 0);
}

}  // namespace
}  // namespace berth::sim
