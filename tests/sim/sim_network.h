// SimNetwork: the simulated network between replicas. Messages are held in
// flight with a delivery time in ticks; faults (loss, duplication, delay and
// thus reordering, symmetric and asymmetric partitions) are decided by the
// caller's seeded RNG, never by wall-clock time.
//
// Links are directed: Block(a, b) stops a's messages to b while b may still
// reach a (an asymmetric partition). A link is checked both when a message is
// sent and when it is due, so a partition also catches messages in flight.
//
// Thread safety: none; the simulator drives it from one thread. The RNG is
// borrowed and must outlive the network.
#ifndef BERTH_TESTS_SIM_SIM_NETWORK_H_
#define BERTH_TESTS_SIM_SIM_NETWORK_H_

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "proto/raft.pb.h"

namespace berth::sim {

struct NetworkFaults {
  double loss = 0;       // probability a message is dropped
  double duplicate = 0;  // probability a message is delivered twice
  uint64_t min_delay = 0;
  uint64_t max_delay = 2;  // uniform delay in ticks, so messages reorder
  double long_delay = 0;   // probability of a delay up to long_delay_max
  uint64_t long_delay_max = 30;
};

class SimNetwork {
 public:
  explicit SimNetwork(std::mt19937_64* rng) : rng_(rng) {}

  void SetFaults(const NetworkFaults& f) { faults_ = f; }
  const NetworkFaults& faults() const { return faults_; }

  // Puts `m` in flight at time `now` (subject to loss and duplication).
  void Send(uint64_t now, const raftpb::Message& m);

  // Removes and returns every message due at or before `now` whose link is
  // open, in a seeded random order; messages to held nodes stay queued.
  std::vector<raftpb::Message> TakeDue(uint64_t now);

  void Block(uint64_t from, uint64_t to) { blocked_.insert({from, to}); }
  void Unblock(uint64_t from, uint64_t to) { blocked_.erase({from, to}); }
  // Cuts every link between `group` and the other `all` nodes, both ways.
  void Isolate(const std::vector<uint64_t>& group,
               const std::vector<uint64_t>& all);
  void HealAll() { blocked_.clear(); }
  // Messages to a held node stay queued until Release (a paused process's
  // socket buffers); the link is checked when they are finally taken.
  void Hold(uint64_t id) { held_.insert(id); }
  void Release(uint64_t id) { held_.erase(id); }
  bool Connected(uint64_t from, uint64_t to) const {
    return !blocked_.contains({from, to});
  }
  size_t blocked_links() const { return blocked_.size(); }
  size_t in_flight() const { return queue_.size(); }

  // Drops everything in flight to or from `id` (a crashed node's sockets).
  void DropNode(uint64_t id);

  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t duplicated() const { return duplicated_; }

 private:
  void Enqueue(uint64_t now, const raftpb::Message& m);
  bool Chance(double p);

  std::mt19937_64* rng_;
  NetworkFaults faults_;
  std::set<std::pair<uint64_t, uint64_t>> blocked_;
  std::set<uint64_t> held_;
  // (due tick, sequence) -> message; the sequence keeps keys unique.
  std::map<std::pair<uint64_t, uint64_t>, raftpb::Message> queue_;
  uint64_t seq_ = 0;
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;
  uint64_t duplicated_ = 0;
};

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_SIM_NETWORK_H_
