#include "tests/sim/sim_network.h"

#include <algorithm>

namespace berth::sim {

bool SimNetwork::Chance(double p) {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(*rng_) < p;
}

void SimNetwork::Enqueue(uint64_t now, const raftpb::Message& m) {
  uint64_t delay = std::uniform_int_distribution<uint64_t>(
      faults_.min_delay, std::max(faults_.min_delay, faults_.max_delay))(*rng_);
  if (Chance(faults_.long_delay)) {
    delay = std::uniform_int_distribution<uint64_t>(
        0, faults_.long_delay_max)(*rng_);
  }
  queue_.emplace(std::make_pair(now + delay, seq_++), m);
}

void SimNetwork::Send(uint64_t now, const raftpb::Message& m) {
  ++sent_;
  if (!Connected(m.from(), m.to()) || Chance(faults_.loss)) {
    ++dropped_;
    return;
  }
  Enqueue(now, m);
  if (Chance(faults_.duplicate)) {
    ++duplicated_;
    Enqueue(now, m);
  }
}

std::vector<raftpb::Message> SimNetwork::TakeDue(uint64_t now) {
  std::vector<raftpb::Message> out;
  auto it = queue_.begin();
  while (it != queue_.end() && it->first.first <= now) {
    if (held_.contains(it->second.to())) {
      ++it;
      continue;
    }
    if (Connected(it->second.from(), it->second.to())) {
      out.push_back(std::move(it->second));
    } else {
      ++dropped_;
    }
    it = queue_.erase(it);
  }
  std::shuffle(out.begin(), out.end(), *rng_);
  return out;
}

void SimNetwork::Isolate(const std::vector<uint64_t>& group,
                         const std::vector<uint64_t>& all) {
  for (uint64_t a : group) {
    for (uint64_t b : all) {
      if (std::find(group.begin(), group.end(), b) != group.end()) continue;
      Block(a, b);
      Block(b, a);
    }
  }
}

void SimNetwork::DropNode(uint64_t id) {
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->second.from() == id || it->second.to() == id) {
      ++dropped_;
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace berth::sim
