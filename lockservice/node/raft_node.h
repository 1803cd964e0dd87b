// RaftNode: the replica runtime that drives a raft::Raft core.
//
// One driver thread owns the Raft object and the StateMachine, and runs the
// Ready loop: step inbound messages and ticks, then for each Ready batch
// persist it (one LogStore::Save, i.e. one fsync: group commit), send its
// messages, apply its committed entries and Advance.
//
// A leader writes asynchronously (raft.h, "Asynchronous log writes"): it
// sends its appends and applies what is committed first, then hands the
// entries to a LogWriter thread, and keeps stepping acks and appending new
// proposals while that write and its fsync run. The core counts the
// leader's own copy toward a commit when the writer reports it durable.
// Proposals that arrive while a write runs pile up and go out, to the
// followers at once and to the writer as one Save, which is what makes one
// fsync serve many clients. Followers persist before they answer, as Raft
// requires, on the driver thread (after any leader writes still queued).
//
// Other threads talk to the node only through its public methods. The
// asynchronous ones (ProposeAsync, ReadBarrierAsync) enqueue work and return;
// the driver completes it through the callback it was handed, so no thread
// is parked per in-flight request. The blocking ones wrap them.
//
// Thread safety: all public methods are thread-safe. Ownership: storage,
// state machine, transport and clock are borrowed and must outlive the node.
#ifndef BERTH_LOCKSERVICE_NODE_RAFT_NODE_H_
#define BERTH_LOCKSERVICE_NODE_RAFT_NODE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "lockservice/raft/raft.h"
#include "lockservice/raft/storage.h"
#include "proto/raft.pb.h"

namespace berth::node {

// A consistent view of the applied state, pinned by
// StateMachine::PinSnapshot and serialized later by Build().
class SnapshotBuilder {
 public:
  virtual ~SnapshotBuilder() = default;
  // The applied index the view holds.
  virtual uint64_t index() const = 0;
  // Serializes the view into an image that StateMachine::Restore accepts.
  // Slow: the node calls it once, on its snapshot thread, never on the
  // driver thread, while the driver keeps applying entries.
  virtual absl::StatusOr<std::string> Build() = 0;
};

// The replicated application. Called on the driver thread only, except
// SnapshotBuilder::Build (see above).
class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies one committed normal entry. The returned bytes go back to the
  // proposer, if it is waiting on this replica. Must be deterministic.
  // Entries without a payload (a new leader's no-op) arrive empty.
  virtual std::string Apply(uint64_t index, std::string_view payload) = 0;
  // Records a committed membership change (after Raft has applied it).
  virtual void ApplyConfChange(uint64_t index,
                               const raftpb::ConfChange& cc) = 0;
  // Highest index whose effects are durable in the state machine; on restart
  // Raft re-delivers everything after it.
  virtual uint64_t AppliedIndex() const = 0;
  // Bracket each run of Apply/ApplyConfChange calls the driver makes for
  // one batch of committed entries, so the application can make the whole
  // batch durable at once. AppliedIndex() may then run ahead of what
  // survives a crash; Raft re-delivers the rest after a restart.
  virtual void BeginApplyBatch() {}
  virtual void EndApplyBatch() {}
  // Pins a view of the state as of the last applied entry, for an image a
  // lagging follower needs. Called between apply batches (EndApplyBatch has
  // returned), so the view must hold exactly AppliedIndex(); it must be
  // cheap (no copying). At most one builder is alive at a time.
  virtual absl::StatusOr<std::unique_ptr<SnapshotBuilder>> PinSnapshot() = 0;
  virtual absl::Status Restore(const raftpb::Snapshot& snap) = 0;
};

// Moves Raft messages between replicas. Send must not block for long: a
// transport queues and drops rather than stalling the driver.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Send(std::vector<raftpb::Message> msgs) = 0;
  virtual void AddPeer(uint64_t id, const std::string& address) = 0;
  virtual void RemovePeer(uint64_t id) = 0;
};

// Completions of ProposeAsync and ReadBarrierAsync. See ProposeAsync for
// when and on which thread they run.
using ProposeDone = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
using ReadDone = absl::AnyInvocable<void(absl::Status) &&>;

struct NodeOptions {
  uint64_t id = 0;
  absl::Duration tick_interval = absl::Milliseconds(50);
  int election_tick = 10;
  int heartbeat_tick = 1;
  // Compact the log after this many applied entries, keeping
  // `keep_entries` so slow followers can catch up without a snapshot. No
  // image is taken for this (the applied state is durable in the state
  // machine); a follower that needs one gets it built on demand, off the
  // driver thread (snapshot_storage.h).
  uint64_t snapshot_every = 20000;
  uint64_t keep_entries = 5000;
  // Any single step of the driver thread that takes longer than this is
  // logged ("raft thread stall: ...") and counted in NodeStatus::stalls.
  absl::Duration stall_threshold = absl::Milliseconds(50);
  // A follower applies committed entries at most this long after they
  // commit, or once this many are waiting, instead of as each commit index
  // arrives: nobody waits on a follower's apply unless a read does (then
  // it applies at once), and each apply batch is one state-machine
  // transaction that rewrites every page it touches, so fewer, larger
  // batches write and cost less per entry. Zero applies at once.
  absl::Duration follower_apply_delay = absl::Milliseconds(10);
  size_t follower_apply_max_entries = 256;
  uint64_t max_inflight_bytes = 64 << 20;
  Clock* clock = nullptr;  // borrowed; Clock::Real() if null
  // Called once, on the driver thread, after a failed write of the log or
  // hard state stopped the node (the replica takes no further part in
  // Raft). Null leaves it at that; berth-lockd exits instead, so that its
  // clients and watch streams fail over rather than wait on a replica that
  // will never apply again (found by the nemesis: a full disk).
  std::function<void(const absl::Status&)> on_storage_failure;
};

struct NodeStatus {
  uint64_t id = 0;
  uint64_t leader = 0;
  uint64_t term = 0;
  raft::Role role = raft::Role::kFollower;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  raftpb::ConfState conf_state;
  std::map<uint64_t, raft::PeerProgress> progress;
  // Driver-thread operations slower than NodeOptions::stall_threshold.
  uint64_t stalls = 0;
  // Snapshot images built for followers (each off the driver thread), and
  // how many of those builds ran on the driver thread (always 0; tests
  // assert it).
  uint64_t snapshots_built = 0;
  uint64_t snapshots_built_on_driver = 0;
};

class RaftNode {
 public:
  static absl::StatusOr<std::unique_ptr<RaftNode>> Create(
      const NodeOptions& opts, raft::LogStore* storage, StateMachine* sm,
      Transport* transport);
  virtual ~RaftNode() = default;

  virtual void Start() = 0;
  // Stops the driver thread; pending callers get Unavailable.
  virtual void Stop() = 0;

  // Replicates `payload` and calls `done` exactly once, with:
  //  * the state machine's result, once this replica applied the entry;
  //  * Unavailable when Raft refuses it (no leader known), when the leader
  //    this replica knew changes while it is pending, or on Stop (the entry
  //    may still commit: the outcome is unknown, the caller may retry);
  //  * DeadlineExceeded at `deadline` (outcome unknown);
  //  * the status passed to Cancel(ticket, ...).
  // `done` runs on the driver thread, or inline on the thread that calls
  // Cancel or Stop (or ProposeAsync itself, on a stopped replica). It must
  // be quick and must not call the blocking methods below; it may call the
  // asynchronous ones. Returns the ticket that Cancel takes.
  virtual uint64_t ProposeAsync(std::string payload, absl::Time deadline,
                                ProposeDone done) = 0;

  // Linearizable read barrier (ReadIndex): calls `done` exactly once, with
  // OK once this replica has applied everything committed before the call
  // began, or with why not (as ProposeAsync; one ReadIndex round serves
  // every read queued meanwhile).
  virtual uint64_t ReadBarrierAsync(absl::Time deadline, ReadDone done) = 0;

  // Completes the pending proposal or read `ticket` now with `why`; a no-op
  // if it already completed. A cancelled proposal may still commit.
  virtual void Cancel(uint64_t ticket, absl::Status why) = 0;

  // Blocking forms of the two above, for callers that own a thread anyway.
  // Propose returns the state machine's result or the status `done` would
  // get; ReadBarrier returns once the barrier passed.
  virtual absl::StatusOr<std::string> Propose(std::string payload,
                                              absl::Time deadline) = 0;
  virtual absl::Status ReadBarrier(absl::Time deadline) = 0;

  virtual absl::Status ProposeConfChange(const raftpb::ConfChange& cc,
                                         absl::Time deadline) = 0;
  virtual absl::Status TransferLeadership(uint64_t transferee,
                                          absl::Time deadline) = 0;

  // Delivers a message from a peer; called by the transport's threads.
  virtual void Receive(raftpb::Message m) = 0;
  // The transport lost its stream to `peer`; the leader falls back to
  // probing it. Thread-safe, never blocks on the driver.
  virtual void ReportUnreachable(uint64_t peer) = 0;

  virtual NodeStatus GetStatus() = 0;

  // Runs `fn(leader_id, term)` on the driver thread whenever leadership
  // changes. Set before Start().
  virtual void OnLeaderChange(std::function<void(uint64_t, uint64_t)> fn) = 0;
};

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_RAFT_NODE_H_
