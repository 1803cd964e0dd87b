#include "lockservice/raft/raft_test_util.h"

#include <cstdlib>
#include <iostream>
#include <utility>

namespace berth::raft::testing {

Network::Network(int n, ConfigFn tweak) : tweak_(std::move(tweak)) {
  std::vector<uint64_t> voters;
  for (int i = 1; i <= n; ++i) voters.push_back(i);
  for (uint64_t id : voters) {
    auto node = std::make_unique<TestNode>();
    node->storage = *MemoryStorage::Bootstrap(voters);
    nodes_[id] = std::move(node);
    Restart(id);
  }
}

Config Network::MakeConfig(uint64_t id, uint64_t applied) const {
  Config c;
  c.id = id;
  c.storage = nodes_.at(id)->storage.get();
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.applied = applied;
  c.seed = 42;
  if (tweak_) tweak_(c);
  return c;
}

std::vector<uint64_t> Network::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

void Network::AddEmptyNode(uint64_t id) {
  auto node = std::make_unique<TestNode>();
  node->storage = std::make_unique<MemoryStorage>();
  nodes_[id] = std::move(node);
  Restart(id);
}

void Network::Restart(uint64_t id) {
  TestNode& n = *nodes_.at(id);
  // Entries up to the storage's commit are re-applied by the core; the test
  // state machine keeps what it applied (as a durable one would).
  const uint64_t applied =
      std::min(n.applied, n.storage->hard_state().commit());
  absl::StatusOr<std::unique_ptr<RaftImpl>> r =
      RaftImpl::New(MakeConfig(id, applied));
  if (!r.ok()) {
    std::cerr << "restart " << id << ": " << r.status() << "\n";
    std::abort();
  }
  n.raft = *std::move(r);
}

bool Network::Dropped(const raftpb::Message& m) const {
  if (cut_.count({m.from(), m.to()})) return true;
  return drop_filter_ && drop_filter_(m);
}

void Network::ProcessReady(TestNode& n) {
  while (n.raft->HasReady()) {
    Ready rd = n.raft->GetReady();
    absl::Status s =
        n.storage->Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                        rd.snapshot ? &*rd.snapshot : nullptr);
    if (!s.ok()) {
      std::cerr << "save: " << s << "\n";
      std::abort();
    }
    if (rd.snapshot) {
      n.applied = rd.snapshot->metadata().index();
      ++n.snapshots_installed;
    }
    for (const raftpb::Entry& e : rd.committed_entries) {
      n.applied = e.index();
      if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) {
        n.applied_data.push_back(e.data());
      }
    }
    for (ReadState& r : rd.read_states) n.read_states.push_back(std::move(r));
    for (raftpb::Message& m : rd.messages) queue_.push_back(std::move(m));
    n.raft->Advance(rd);
  }
}

void Network::DrainReady() {
  for (auto& [id, n] : nodes_) ProcessReady(*n);
}

int Network::DeliverQueued() {
  std::deque<raftpb::Message> batch;
  batch.swap(queue_);
  int delivered = 0;
  for (const raftpb::Message& m : batch) {
    auto it = nodes_.find(m.to());
    if (it == nodes_.end() || Dropped(m)) continue;
    if (observer_) observer_(m);
    (void)it->second->raft->Step(m);
    ++delivered;
  }
  return delivered;
}

void Network::Stabilize() {
  for (int round = 0; round < 100000; ++round) {
    DrainReady();
    if (queue_.empty()) return;
    DeliverQueued();
  }
  std::cerr << "network did not stabilize\n";
  std::abort();
}

void Network::TickAll(int n) {
  for (int i = 0; i < n; ++i) {
    for (auto& [id, node] : nodes_) node->raft->Tick();
    Stabilize();
  }
}

void Network::Tick(uint64_t id, int n) {
  for (int i = 0; i < n; ++i) nodes_.at(id)->raft->Tick();
}

uint64_t Network::Elect(uint64_t id) {
  (void)raft(id).Campaign();
  Stabilize();
  return Leader();
}

uint64_t Network::Leader() const {
  uint64_t best = kNone, best_term = 0;
  for (const auto& [id, n] : nodes_) {
    if (n->raft->role() == Role::kLeader && n->raft->term() >= best_term) {
      best = id;
      best_term = n->raft->term();
    }
  }
  return best;
}

void Network::Isolate(uint64_t id) {
  for (const auto& [other, n] : nodes_) {
    if (other == id) continue;
    cut_.insert({id, other});
    cut_.insert({other, id});
  }
}

void Network::Cut(uint64_t a, uint64_t b) {
  cut_.insert({a, b});
  cut_.insert({b, a});
}

void Network::Heal() {
  cut_.clear();
  drop_filter_ = nullptr;
}

void Network::Compact(uint64_t id, uint64_t index, size_t snapshot_bytes) {
  TestNode& n = node(id);
  std::string data(snapshot_bytes, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = 'a' + (i * 7 + index) % 26;
  absl::Status s = n.storage->CreateSnapshot(
      index, n.raft->GetStatus().conf_state, std::move(data), index);
  if (!s.ok()) {
    std::cerr << "compact: " << s << "\n";
    std::abort();
  }
}

raftpb::ConfChange MakeConfChange(raftpb::ConfChangeType type, uint64_t id) {
  raftpb::ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(id);
  return cc;
}

}  // namespace berth::raft::testing
