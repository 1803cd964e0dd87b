// berth's Raft core: a deterministic consensus state machine with no I/O, no
// threads and no clock, in the style of etcd's raft.
//
// Time enters only through Tick(), messages through Step(), client work
// through Propose()/ProposeConfChange()/ReadIndex(). The caller drains work
// with HasReady()/GetReady(), then:
//   1. persists rd.snapshot, rd.entries and rd.hard_state (one LogStore::Save,
//      which must be durable before step 2: a vote or an append ack must never
//      leave the node before the state it depends on is on disk);
//   2. sends rd.messages;
//   3. applies rd.committed_entries to its state machine (conf-change entries
//      have already been applied to the membership by the core, see below);
//   4. calls Advance(rd).
//
// Asynchronous log writes (Raft thesis §10.2.1, etcd raft's "async storage
// writes"): a leader may send rd.messages before or while its own write of
// rd.entries runs, because the core counts the leader's own copy toward a
// commit only after the driver reports it durable. Such a driver moves
// rd.entries out of the Ready before Advance(rd) and, once the write is
// durable, calls OnPersisted(index, term) with the last entry written. It
// may do so only when the Ready's role is leader, it carries no snapshot and
// its hard state changes at most the commit index (a vote or a new term must
// be durable before any message leaves). A follower may write asynchronously
// under the same conditions, but the messages that claim durable state
// (AckAfterPersisted below: append, vote and snapshot acks) must then leave
// only after that write, and after every earlier one, is durable; the others
// (heartbeat replies, forwarded proposals and reads) may leave at once.
// Committed entries handed out in a Ready are always durable on this
// replica already.
//
// Membership-only snapshots: a Ready.snapshot whose metadata.index() is 0
// carries no state-machine image (empty data), only the cluster's bootstrap
// ConfState. The driver persists it like any snapshot (LogStore::Save) but
// must not restore its state machine from it: the node has applied nothing
// yet, and there is no image to restore.
//
// Joining servers (thesis §4.1): a server added with empty storage must
// learn the configuration the log builds on before it may vote or commit.
// Membership is a base ConfState (that of the snapshot the log follows; for
// a new cluster the bootstrap ConfState at index 0) plus the conf-change
// entries after it. Index 0 is the one point where a follower can accept
// entries without holding what precedes them, so:
//  * every MsgApp whose previous index is 0 carries the leader's bootstrap
//    ConfState in Message.snapshot.metadata (index 0, no data);
//  * a follower that has no membership and an empty log adopts it as a
//    membership-only snapshot (above), in the same Ready as the entries;
//  * if the leader's snapshot has moved past index 0 without compacting the
//    log (so the bootstrap ConfState is gone), a follower that needs index 1
//    is sent that snapshot instead;
//  * a node whose base membership is unknown (no ConfState with a voter)
//    never campaigns, whatever its conf-change entries say, so it can never
//    lead and count itself a quorum.
// This needs no storage support beyond persisting snapshots at index 0.
//
// Implemented features, with the paper sections they follow:
//  * leader election with randomized timeouts (§5.2), pre-vote and
//    check-quorum (thesis §9.6);
//  * log replication (§5.3) with pipelining, flow control (max in-flight
//    messages and bytes) and fast conflict back-off;
//  * commitment only by counting replicas of current-term entries (§5.4.2);
//  * snapshots and InstallSnapshot sent in chunks (§7);
//  * single-server membership changes with learners catching up first
//    (thesis §4.1, §4.2.1); a change takes effect when its entry is applied
//    and only one may be pending at a time;
//  * leadership transfer with TimeoutNow (thesis §3.10);
//  * ReadIndex (thesis §6.4), answered only after the leader has committed an
//    entry of its own term.
//
// Thread safety: none. A Raft object is owned and driven by one thread.
#ifndef BERTH_LOCKSERVICE_RAFT_RAFT_H_
#define BERTH_LOCKSERVICE_RAFT_RAFT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/raft/storage.h"
#include "proto/raft.pb.h"

namespace berth::raft {

inline constexpr uint64_t kNone = 0;

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role r);

// True for the messages whose content claims this replica's log or hard
// state is durable: a driver that writes asynchronously holds them back
// until every write submitted before them is durable (above).
bool AckAfterPersisted(raftpb::MessageType type);

struct Config {
  // This replica's id; must be non-zero.
  uint64_t id = kNone;
  // Borrowed; must outlive the Raft object.
  Storage* storage = nullptr;
  // Ticks without hearing from a leader before campaigning. The actual
  // timeout is drawn uniformly from [election_tick, 2*election_tick).
  int election_tick = 10;
  // Ticks between leader heartbeats. Must be < election_tick.
  int heartbeat_tick = 1;
  // Index of the last entry the application has applied (on restart).
  uint64_t applied = 0;
  // Upper bound on serialized entry bytes in one MsgApp.
  uint64_t max_size_per_msg = 1 << 20;
  // Flow control: at most this many un-acked MsgApp per follower...
  int max_inflight_msgs = 256;
  // ...and at most this many un-acked entry bytes (0 = unlimited).
  uint64_t max_inflight_bytes = 0;
  // Bytes of snapshot data per MsgSnap chunk.
  uint64_t snapshot_chunk_bytes = 1 << 20;
  bool pre_vote = true;
  bool check_quorum = true;
  // Seeds the core's private RNG (randomized election timeouts). The same
  // seed, inputs and order give the same outputs: the simulator relies on it.
  uint64_t seed = 0;
  // TEST ONLY, never set outside tests/sim: a deliberately planted bug. The
  // leader answers ReadIndex at once, without the heartbeat round that
  // confirms it still leads, so a deposed leader serves stale reads. It
  // exists so that `berth-raft-sim --plant-bug stale-read` can show the
  // simulator catches that bug (docs/architecture.md, "Simulation").
  bool test_only_unsafe_read_index_without_quorum = false;
};

// Volatile state that is useful to the driver but need not be persisted.
struct SoftState {
  uint64_t lead = kNone;
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

// Answer to a ReadIndex request: once the state machine has applied `index`,
// a read tagged with `request_ctx` may be served linearizably.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
};

struct Ready {
  std::optional<SoftState> soft_state;          // set when it changed
  std::optional<raftpb::HardState> hard_state;  // set when it changed
  std::vector<ReadState> read_states;
  // Entries to append to stable storage before sending `messages`.
  std::vector<raftpb::Entry> entries;
  // A complete snapshot received from the leader, to persist and install.
  // At index 0 it is membership-only: persist it, restore nothing (above).
  std::optional<raftpb::Snapshot> snapshot;
  // Committed entries to apply to the state machine, in index order.
  std::vector<raftpb::Entry> committed_entries;
  std::vector<raftpb::Message> messages;
  // True if hard_state or entries changed, so the batch must be fsynced.
  bool must_sync = false;
};

// Replication progress of one peer, as seen by the leader.
struct PeerProgress {
  uint64_t match = 0;
  uint64_t next = 0;
  bool learner = false;
  bool recent_active = false;
  // "probe", "replicate" or "snapshot".
  std::string state;
};

struct Status {
  uint64_t id = kNone;
  raftpb::HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  raftpb::ConfState conf_state;
  // Populated on the leader only.
  std::map<uint64_t, PeerProgress> progress;
  uint64_t lead_transferee = kNone;
};

class Raft {
 public:
  // Restores state from config.storage (hard state, membership, log). A brand
  // new cluster is bootstrapped by giving storage an initial ConfState.
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const Config& config);

  virtual ~Raft() = default;

  // Advances the logical clock by one tick.
  virtual void Tick() = 0;

  // Feeds a message received from a peer (or a local message type).
  virtual absl::Status Step(const raftpb::Message& m) = 0;

  // Starts an election now (MsgHup), subject to pre-vote.
  virtual absl::Status Campaign() = 0;

  // Proposes data to be appended. Fails with FailedPrecondition when there is
  // no known leader or a leadership transfer is in progress. On a follower
  // the proposal is forwarded to the leader.
  virtual absl::Status Propose(std::string data) = 0;

  // Proposes a single-server membership change. Fails if another change is
  // still pending (not yet applied) or the change is invalid (e.g. promoting
  // a node that is not a learner, removing the last voter).
  virtual absl::Status ProposeConfChange(const raftpb::ConfChange& cc) = 0;

  // Requests a linearizable read point; the answer arrives as a ReadState
  // carrying `request_ctx` (which must be unique per request).
  virtual absl::Status ReadIndex(std::string request_ctx) = 0;

  // Asks the leader to hand leadership to `transferee`.
  virtual absl::Status TransferLeadership(uint64_t transferee) = 0;

  // The transport reports that `id` could not be reached; the leader falls
  // back to probing it.
  virtual void ReportUnreachable(uint64_t id) = 0;

  virtual bool HasReady() const = 0;
  virtual Ready GetReady() = 0;
  // Acknowledges that everything in `rd` was persisted, sent and applied
  // (for rd.entries this is OnPersisted of the last one).
  virtual void Advance(const Ready& rd) = 0;
  // The driver's write of entries up to (index, term), handed out in an
  // earlier Ready, is durable. Ignored if the entry at `index` no longer has
  // `term` (this node's log was overwritten since; the newer entries get
  // their own report). On a leader this is its own acknowledgment: only now
  // does its copy count toward the commit index.
  virtual void OnPersisted(uint64_t index, uint64_t term) = 0;

  virtual Status GetStatus() const = 0;
};

}  // namespace berth::raft

#endif  // BERTH_LOCKSERVICE_RAFT_RAFT_H_
