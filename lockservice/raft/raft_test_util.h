// In-test network harness: N RaftImpl replicas on MemoryStorage, driven in one
// thread. Ready batches are persisted, messages queued FIFO and delivered
// subject to drop rules, committed entries recorded as the "applied" log.
// Test-only; not part of berth_raft.
#ifndef BERTH_LOCKSERVICE_RAFT_RAFT_TEST_UTIL_H_
#define BERTH_LOCKSERVICE_RAFT_RAFT_TEST_UTIL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lockservice/raft/memory_storage.h"
#include "lockservice/raft/raft_impl.h"

namespace berth::raft::testing {

struct TestNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<RaftImpl> raft;
  uint64_t applied = 0;
  // Data of applied normal entries (non-empty ones), in order.
  std::vector<std::string> applied_data;
  std::vector<ReadState> read_states;
  int snapshots_installed = 0;
};

class Network {
 public:
  using ConfigFn = std::function<void(Config&)>;

  // Ids 1..n, all voters of a brand-new cluster.
  explicit Network(int n, ConfigFn tweak = nullptr);

  TestNode& node(uint64_t id) { return *nodes_.at(id); }
  RaftImpl& raft(uint64_t id) { return *nodes_.at(id)->raft; }
  std::vector<uint64_t> ids() const;

  // Adds a node with empty storage (to be added through a conf change).
  void AddEmptyNode(uint64_t id);
  // Rebuilds node `id` from its storage, as after a crash and restart.
  void Restart(uint64_t id);

  // Processes Ready batches and delivers messages until nothing moves.
  void Stabilize();
  // Ticks every node once, then stabilizes; `n` times.
  void TickAll(int n = 1);
  // Ticks node `id` n times (no delivery).
  void Tick(uint64_t id, int n = 1);

  // Campaigns on `id` and stabilizes; returns the leader id afterwards.
  uint64_t Elect(uint64_t id);
  // The node that is leader in the highest term, or kNone.
  uint64_t Leader() const;

  // Fault injection.
  void Isolate(uint64_t id);
  void Cut(uint64_t a, uint64_t b);  // both directions
  void Heal();
  // Drops every message for which `fn` returns true.
  void SetDropFilter(std::function<bool(const raftpb::Message&)> fn) {
    drop_filter_ = std::move(fn);
  }
  // Observes every delivered message.
  void SetObserver(std::function<void(const raftpb::Message&)> fn) {
    observer_ = std::move(fn);
  }

  // Processes Ready on every node once, queueing its messages.
  void DrainReady();
  // Delivers queued messages once; returns how many were delivered.
  int DeliverQueued();
  std::deque<raftpb::Message>& queue() { return queue_; }

  // Snapshot data size used when a test compacts a node's log.
  void Compact(uint64_t id, uint64_t index, size_t snapshot_bytes);

 private:
  Config MakeConfig(uint64_t id, uint64_t applied) const;
  void ProcessReady(TestNode& n);
  bool Dropped(const raftpb::Message& m) const;

  ConfigFn tweak_;
  std::map<uint64_t, std::unique_ptr<TestNode>> nodes_;
  std::deque<raftpb::Message> queue_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::function<bool(const raftpb::Message&)> drop_filter_;
  std::function<void(const raftpb::Message&)> observer_;
};

// Serialized ConfChange helper.
raftpb::ConfChange MakeConfChange(raftpb::ConfChangeType type, uint64_t id);

}  // namespace berth::raft::testing

#endif  // BERTH_LOCKSERVICE_RAFT_RAFT_TEST_UTIL_H_
