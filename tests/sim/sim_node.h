// SimNode: one simulated replica. It owns a Raft core, a SimDisk and the KV
// state machine, and runs the Ready loop the way lockd does:
//   persist (write, then fsync) -> send -> apply -> sync state machine ->
//   Advance.
// Replicas write asynchronously, as lockd does (raft.h, "Asynchronous log
// writes"): a batch is written but not fsynced, and the fsync completes
// later, as a separate simulator event (CompleteWrites), when the core is
// told with Raft::OnPersisted. A leader's messages leave first, so a crash
// before then loses a tail the followers may have. A follower sends its
// heartbeat replies and forwarded requests at once but holds its acks
// (raft::AckAfterPersisted) until that fsync; a crash drops them.
// Between those steps the observer may decide (from the seeded RNG) that the
// node loses power; the loop then stops where it is, so e.g. a batch that was
// written but not fsynced is lost and its messages are never sent.
//
// A crashed node restarts from durable state only: the synced disk image and
// the state machine's last durable image (or the Raft snapshot, if newer).
// Raft::Create gets applied = that image's index, so committed entries above
// it are delivered again.
//
// Reads are linearizable through ReadIndex: a read is served once the node has
// applied at least the read index the core returned for it.
//
// Thread safety: none. The observer is borrowed and must outlive the node.
#ifndef BERTH_TESTS_SIM_SIM_NODE_H_
#define BERTH_TESTS_SIM_SIM_NODE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/raft/memory_storage.h"
#include "lockservice/raft/raft.h"
#include "tests/sim/kv_state_machine.h"
#include "tests/sim/sim_disk.h"

namespace berth::sim {

enum class CrashPoint {
  kAfterWrite,      // batch written, not fsynced: it is lost
  kAfterSync,       // durable, messages not yet sent
  kAfterApply,      // applied in memory, state machine image not yet synced
  kAfterAsyncSend,  // leader: messages sent, its own batch not yet written
};

class SimNode;

class NodeObserver {
 public:
  virtual ~NodeObserver() = default;
  virtual void Send(const raftpb::Message& m) = 0;
  virtual bool ShouldCrash(uint64_t id, CrashPoint p) = 0;
  // A Ready batch is durable, or for a leader's asynchronous write about to
  // be written; called before its messages leave.
  virtual void Persisted(SimNode& node, const raft::Ready& rd) = 0;
  virtual void Applied(uint64_t id, const raftpb::Entry& e,
                       const ApplyResult& r) = 0;
  virtual void ReadServed(uint64_t id, const std::string& ctx,
                          const std::string& value) = 0;
  virtual void Trace(const std::string& line) = 0;
};

struct NodeOptions {
  int election_tick = 10;
  int heartbeat_tick = 1;
  uint64_t max_size_per_msg = 4096;
  int max_inflight_msgs = 8;
  uint64_t snapshot_chunk_bytes = 512;
  // Planted bug (--plant-bug stale-read): see raft::Config.
  bool unsafe_read_index_without_quorum = false;
  // A leader sends before its own write is durable (see above).
  bool async_leader_writes = true;
  // A follower writes off its Ready loop and acks after the fsync.
  bool async_follower_writes = true;
};

class SimNode {
 public:
  // `initial` is the node's first disk image: a bootstrapped member or an
  // empty joiner.
  static absl::StatusOr<std::unique_ptr<SimNode>> Create(
      uint64_t id, const raft::MemoryStorage& initial,
      const NodeOptions& options, uint64_t seed, NodeObserver* observer);

  uint64_t id() const { return id_; }
  bool up() const { return raft_ != nullptr; }
  // Only while up().
  raft::Raft& raft() { return *raft_; }
  SimDisk& disk() { return disk_; }
  const KvStateMachine& kv() const { return kv_; }

  absl::Status Tick();
  absl::Status Step(const raftpb::Message& m);
  // Runs the Ready loop until the core has nothing more (or the node crashed).
  absl::Status Drain();
  // The fsync of the outstanding asynchronous writes completes.
  absl::Status CompleteWrites();
  bool has_async_writes() const {
    return !async_writes_.empty() || !held_acks_.empty();
  }

  // Power loss now: volatile state is gone.
  void Crash();
  absl::Status Restart(uint64_t seed);

  absl::Status Propose(std::string data);
  absl::Status Read(const std::string& ctx, const std::string& key);

  // Snapshots the applied state and compacts the log, keeping `keep` entries.
  absl::Status Compact(uint64_t keep);

 private:
  SimNode(uint64_t id, const raft::MemoryStorage& initial,
          const NodeOptions& options, NodeObserver* observer)
      : id_(id), options_(options), observer_(observer), disk_(initial) {}

  absl::Status StartRaft(uint64_t seed);
  // One Ready batch; false if the node crashed part-way.
  absl::StatusOr<bool> HandleReady();
  // A Ready written asynchronously; false if the node crashed.
  absl::StatusOr<bool> HandleReadyAsync(raft::Ready& rd, bool leader);
  // Applies rd's committed entries and read states, then Advance; false if
  // the node crashed before its state machine image was synced.
  absl::StatusOr<bool> ApplyAndAdvance(raft::Ready& rd);
  // Tells the core that every outstanding asynchronous write is durable,
  // and sends the acks held for them.
  void ReportAsyncWrites();
  void ServeReads();

  struct PendingRead {
    std::string key;
    uint64_t index = 0;  // 0 until the core answers
  };

  const uint64_t id_;
  const NodeOptions options_;
  NodeObserver* observer_;
  SimDisk disk_;
  KvStateMachine kv_;
  KvStateMachine durable_kv_;
  std::unique_ptr<raft::Raft> raft_;
  std::map<std::string, PendingRead> reads_;
  // Last (index, term) of each asynchronous write not yet fsynced.
  std::vector<std::pair<uint64_t, uint64_t>> async_writes_;
  // A follower's acks waiting for the fsync of the writes before them.
  std::vector<raftpb::Message> held_acks_;
  // Term and vote as last written: a Ready that changes them is never
  // written asynchronously.
  raftpb::HardState written_hs_;
};

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_SIM_NODE_H_
