// Throughput of the Raft core alone: a 3-node in-memory cluster, 256-byte
// proposals in batches of 64, messages delivered directly in one thread.
//   build-raft/lockservice/raft/raft_bench
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <vector>

#include "lockservice/raft/memory_storage.h"
#include "lockservice/raft/raft_impl.h"

namespace berth::raft {
namespace {

class Cluster {
 public:
  Cluster() {
    for (uint64_t id = 1; id <= 3; ++id) {
      storages_.push_back(*MemoryStorage::Bootstrap({1, 2, 3}));
      Config c;
      c.id = id;
      c.storage = storages_.back().get();
      c.max_size_per_msg = 1 << 20;
      nodes_.push_back(*RaftImpl::New(c));
    }
    (void)nodes_[0]->Campaign();
    Run();
  }

  RaftImpl& leader() { return *nodes_[0]; }
  uint64_t applied() const { return applied_; }

  void Run() {
    bool moved = true;
    while (moved) {
      moved = false;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        RaftImpl& r = *nodes_[i];
        while (r.HasReady()) {
          moved = true;
          Ready rd = r.GetReady();
          (void)storages_[i]->Save(rd.hard_state ? &*rd.hard_state : nullptr,
                                   rd.entries,
                                   rd.snapshot ? &*rd.snapshot : nullptr);
          if (i == 0) applied_ += rd.committed_entries.size();
          for (raftpb::Message& m : rd.messages) queue_.push_back(std::move(m));
          r.Advance(rd);
        }
      }
      while (!queue_.empty()) {
        moved = true;
        raftpb::Message m = std::move(queue_.front());
        queue_.pop_front();
        (void)nodes_[m.to() - 1]->Step(m);
      }
    }
  }

  // Keeps storage bounded during long runs.
  void Compact() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const uint64_t applied = nodes_[i]->GetStatus().applied;
      if (applied > storages_[i]->FirstIndex() + 100'000) {
        (void)storages_[i]->Compact(applied - 1000);
      }
    }
  }

 private:
  std::vector<std::unique_ptr<MemoryStorage>> storages_;
  std::vector<std::unique_ptr<RaftImpl>> nodes_;
  std::deque<raftpb::Message> queue_;
  uint64_t applied_ = 0;
};

void BM_ThreeNodeReplication(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  Cluster cluster;
  if (cluster.leader().role() != Role::kLeader) {
    state.SkipWithError("no leader");
    return;
  }
  const std::string payload(256, 'p');
  int64_t entries = 0;
  for (auto _ : state) {
    // One MsgProp carrying the whole batch, as a driver that gathers client
    // requests between Ready rounds would send it.
    raftpb::Message prop;
    prop.set_type(raftpb::MSG_PROP);
    prop.set_from(1);
    for (int i = 0; i < batch; ++i) prop.add_entries()->set_data(payload);
    if (!cluster.leader().Step(prop).ok()) std::abort();
    cluster.Run();
    entries += batch;
    if (entries % (1 << 16) < batch) cluster.Compact();
  }
  state.SetItemsProcessed(entries);
  state.SetBytesProcessed(entries * static_cast<int64_t>(payload.size()));
}
BENCHMARK(BM_ThreeNodeReplication)->Arg(64)->Arg(256);

// The same with one Propose() call per entry (one MsgApp per entry).
void BM_ThreeNodeUnbatchedPropose(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  Cluster cluster;
  const std::string payload(256, 'p');
  int64_t entries = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      if (!cluster.leader().Propose(payload).ok()) std::abort();
    }
    cluster.Run();
    entries += batch;
    if (entries % (1 << 16) < batch) cluster.Compact();
  }
  state.SetItemsProcessed(entries);
}
BENCHMARK(BM_ThreeNodeUnbatchedPropose)->Arg(64);

}  // namespace
}  // namespace berth::raft

BENCHMARK_MAIN();
