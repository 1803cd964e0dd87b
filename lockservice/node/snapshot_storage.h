// SnapshotStorage: the raft::Storage the Raft core reads, serving snapshot
// images that are built on demand off the driver thread.
//
// The node compacts the log without taking an image (the applied state is
// durable in the state machine), so the LogStore's snapshot is usually
// metadata only. When the core needs an image for a lagging follower,
// GetSnapshot() answers Unavailable (etcd's ErrSnapshotTemporarilyUnavailable;
// the core retries at a later heartbeat) and records the request. The
// driver then calls MaybeStartBuild() between apply batches: it pins a view
// of the state machine (cheap) and a background thread serializes it. Once
// built, GetSnapshot() returns that image, for as long as the log still
// continues from its index (i.e. it was not compacted past it).
//
// Every other call is forwarded to the LogStore unchanged.
//
// Thread safety: the raft::Storage methods and MaybeStartBuild are called by
// the driver thread; the builder thread touches only the state guarded by
// mu_. stats() may be read from any thread. The destructor waits for a
// build in progress.
#ifndef BERTH_LOCKSERVICE_NODE_SNAPSHOT_STORAGE_H_
#define BERTH_LOCKSERVICE_NODE_SNAPSHOT_STORAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lockservice/node/raft_node.h"
#include "lockservice/raft/storage.h"

namespace berth::node {

class SnapshotStorage : public raft::Storage {
 public:
  struct Stats {
    uint64_t built = 0;
    // Builds that ran on the thread that requested them (the driver). The
    // design keeps this at 0; tests assert it.
    uint64_t built_on_driver = 0;
    uint64_t failed = 0;
  };

  // `log` is borrowed and must outlive this object.
  SnapshotStorage(raft::LogStore* log, uint64_t node_id)
      : log_(log), node_id_(node_id) {}
  ~SnapshotStorage() override;

  // raft::Storage.
  absl::StatusOr<raft::InitialState> GetInitialState() override {
    return log_->GetInitialState();
  }
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) override {
    return log_->Entries(lo, hi, max_bytes);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) override { return log_->Term(i); }
  uint64_t FirstIndex() override { return log_->FirstIndex(); }
  uint64_t LastIndex() override { return log_->LastIndex(); }
  absl::StatusOr<raftpb::Snapshot> GetSnapshot() override;

  // Driver thread, between apply batches, with the node's applied index and
  // the membership as of that index. Starts a build if the core asked for
  // an image that does not exist and none is in progress; otherwise does
  // nothing.
  void MaybeStartBuild(StateMachine* sm, uint64_t applied,
                       const raftpb::ConfState& conf);

  Stats stats();

 private:
  // The builder thread's body.
  void Build(std::unique_ptr<SnapshotBuilder> builder,
             raftpb::SnapshotMetadata meta, std::thread::id requester);

  raft::LogStore* const log_;
  const uint64_t node_id_;
  std::thread builder_thread_;  // driver thread only
  bool wanted_ = false;         // driver thread only

  absl::Mutex mu_;
  bool building_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<raftpb::Snapshot> ready_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_SNAPSHOT_STORAGE_H_
