#include "tests/sim/sim_network.h"

#include <random>

#include "gtest/gtest.h"

namespace berth::sim {
namespace {

raftpb::Message Msg(uint64_t from, uint64_t to, uint64_t index = 0) {
  raftpb::Message m;
  m.set_type(raftpb::MSG_APP);
  m.set_from(from);
  m.set_to(to);
  m.set_index(index);
  return m;
}

SimNetwork Quiet(std::mt19937_64* rng) {
  SimNetwork n(rng);
  n.SetFaults(NetworkFaults{.min_delay = 1, .max_delay = 1});
  return n;
}

TEST(SimNetworkTest, DeliversAfterDelayNotBefore) {
  std::mt19937_64 rng(1);
  SimNetwork net = Quiet(&rng);
  net.Send(10, Msg(1, 2));
  EXPECT_TRUE(net.TakeDue(10).empty());
  ASSERT_EQ(net.TakeDue(11).size(), 1u);
  EXPECT_EQ(net.in_flight(), 0u);
}

TEST(SimNetworkTest, AsymmetricPartitionBlocksOneDirectionOnly) {
  std::mt19937_64 rng(1);
  SimNetwork net = Quiet(&rng);
  net.Block(1, 2);
  net.Send(0, Msg(1, 2));
  net.Send(0, Msg(2, 1));
  std::vector<raftpb::Message> got = net.TakeDue(5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from(), 2u);
  EXPECT_EQ(got[0].to(), 1u);
}

TEST(SimNetworkTest, PartitionAlsoCatchesMessagesInFlight) {
  std::mt19937_64 rng(1);
  SimNetwork net = Quiet(&rng);
  net.Send(0, Msg(1, 2));
  net.Isolate({1}, {1, 2, 3});
  EXPECT_TRUE(net.TakeDue(5).empty());
  EXPECT_FALSE(net.Connected(2, 1));
  EXPECT_FALSE(net.Connected(1, 3));
  EXPECT_TRUE(net.Connected(2, 3));
  net.HealAll();
  net.Send(5, Msg(1, 2));
  EXPECT_EQ(net.TakeDue(6).size(), 1u);
}

TEST(SimNetworkTest, HeldNodeGetsItsMessagesOnlyAfterRelease) {
  std::mt19937_64 rng(1);
  SimNetwork net = Quiet(&rng);
  net.Hold(2);
  net.Send(0, Msg(1, 2));
  net.Send(0, Msg(1, 3));
  std::vector<raftpb::Message> got = net.TakeDue(20);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].to(), 3u);
  EXPECT_EQ(net.in_flight(), 1u);
  net.Release(2);
  got = net.TakeDue(21);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].to(), 2u);
}

TEST(SimNetworkTest, SameSeedSameScheduleAndDelayReorders) {
  auto run = [](uint64_t seed) {
    std::mt19937_64 rng(seed);
    SimNetwork net(&rng);
    net.SetFaults(NetworkFaults{.loss = 0.2, .duplicate = 0.2, .max_delay = 5});
    for (uint64_t i = 0; i < 200; ++i) net.Send(0, Msg(1, 2, i));
    std::vector<uint64_t> order;
    for (uint64_t t = 0; t <= 5; ++t) {
      for (const raftpb::Message& m : net.TakeDue(t)) {
        order.push_back(m.index());
      }
    }
    return order;
  };
  const std::vector<uint64_t> a = run(7);
  EXPECT_EQ(a, run(7));
  EXPECT_NE(a, run(8));
  EXPECT_FALSE(std::is_sorted(a.begin(), a.end()));
  // Loss and duplication both happened: some index missing, some repeated.
  std::vector<int> count(200, 0);
  for (uint64_t i : a) ++count[i];
  EXPECT_NE(std::count(count.begin(), count.end(), 0), 0);
  EXPECT_NE(std::count(count.begin(), count.end(), 2), 0);
}

}  // namespace
}  // namespace berth::sim
