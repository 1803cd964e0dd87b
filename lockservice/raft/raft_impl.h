// RaftImpl: the Raft state machine behind the Raft interface (raft.h).
//
// Structure (etcd-raft style): each role installs its own step and tick
// handlers through member-function pointers when the role changes
// (Become*), so role checks are not scattered through the code. The
// implementation is split by topic:
//   raft_impl.cc        construction, Step's term rules, role changes
//   raft_election.cc    elections, pre-vote, check-quorum, transfer
//   raft_replication.cc AppendEntries, heartbeats, commit
//   raft_snapshot.cc    chunked InstallSnapshot, both sides
//   raft_membership.cc  conf-change validation and application
//   raft_read.cc        ReadIndex
//   raft_ready.cc       Ready/Advance/Status and the public API
//
// Membership rule: a ConfChange takes effect when its entry is handed to the
// driver as committed, inside GetReady (so a driver cannot forget to apply
// it). On restart the membership is InitialState.conf_state plus every
// conf-change entry in the log up to Config::applied, re-applied in order;
// entries after that are re-applied as they are handed out again. A single
// change fully determines one member's state, so re-applying a change that
// storage's conf_state already includes is harmless.
//
// Base membership (thesis §4.1, see "Joining servers" in raft.h): the log
// holds only membership *changes*; the configuration they start from is the
// ConfState of the snapshot the log follows. A node knows its membership
// only once it has such a ConfState with at least one voter
// (membership_known_); until then it never campaigns. Index 0 is the one
// place where a follower can accept entries without holding what precedes
// them (term 0 matches everywhere), so every MsgApp whose previous index is
// 0 carries the bootstrap ConfState, and an empty follower adopts it as a
// membership-only snapshot at index 0 that the driver persists.
//
// Thread safety: none; one owner thread drives it.
#ifndef BERTH_LOCKSERVICE_RAFT_RAFT_IMPL_H_
#define BERTH_LOCKSERVICE_RAFT_RAFT_IMPL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lockservice/raft/progress.h"
#include "lockservice/raft/raft.h"
#include "lockservice/raft/raft_log.h"

namespace berth::raft {

// Vote context marking an election started by MsgTimeoutNow (leadership
// transfer): voters then skip their leader-lease check.
inline constexpr char kCampaignTransfer[] = "transfer";

class RaftImpl : public Raft {
 public:
  static absl::StatusOr<std::unique_ptr<RaftImpl>> New(const Config& config);

  // Raft interface (raft_ready.cc).
  void Tick() override;
  absl::Status Step(const raftpb::Message& m) override;
  absl::Status Campaign() override;
  absl::Status Propose(std::string data) override;
  absl::Status ProposeConfChange(const raftpb::ConfChange& cc) override;
  absl::Status ReadIndex(std::string request_ctx) override;
  absl::Status TransferLeadership(uint64_t transferee) override;
  void ReportUnreachable(uint64_t id) override;
  bool HasReady() const override;
  Ready GetReady() override;
  void Advance(const Ready& rd) override;
  void OnPersisted(uint64_t index, uint64_t term) override;
  Status GetStatus() const override;

  // Introspection for tests and the simulator.
  uint64_t id() const { return id_; }
  Role role() const { return role_; }
  uint64_t term() const { return term_; }
  uint64_t lead() const { return lead_; }
  uint64_t vote() const { return vote_; }
  const RaftLog& raft_log() const { return log_; }
  const ProgressTracker& tracker() const { return tracker_; }
  int randomized_election_timeout() const { return randomized_timeout_; }

 private:
  using StepFn = absl::Status (RaftImpl::*)(const raftpb::Message& m);
  using TickFn = void (RaftImpl::*)();

  explicit RaftImpl(const Config& config);
  absl::Status Restore(const Config& config);

  // Role changes (raft_impl.cc).
  void Reset(uint64_t term);
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void ResetRandomizedTimeout();
  uint64_t NextRandom();
  void Send(raftpb::Message m);
  absl::Status StepInternal(const raftpb::Message& m);

  // Per-role handlers.
  absl::Status StepFollower(const raftpb::Message& m);
  absl::Status StepCandidate(const raftpb::Message& m);
  absl::Status StepLeader(const raftpb::Message& m);
  void TickElection();
  void TickHeartbeat();

  // Elections (raft_election.cc).
  bool Promotable() const;
  bool HasUnappliedConfChanges() const;
  void Hup(bool transfer);
  void StartCampaign(bool pre_vote, bool transfer);
  void HandleVoteRequest(const raftpb::Message& m);
  void HandleVoteResponse(const raftpb::Message& m);
  void CheckQuorum();
  absl::Status HandleTransferLeader(const raftpb::Message& m);
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }
  void SendTimeoutNow(uint64_t to);

  // Replication (raft_replication.cc).
  absl::Status HandlePropose(const raftpb::Message& m);
  void AppendEntries(std::vector<raftpb::Entry>&& ents);
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  void BcastAppend();
  void SendHeartbeat(uint64_t to, const std::string& ctx);
  void BcastHeartbeat();
  void HandleAppendEntries(const raftpb::Message& m);
  // Leader: adds the bootstrap membership to a MsgApp whose previous index
  // is 0. False if a later snapshot replaced it (or storage cannot say yet):
  // the follower must then be sent that snapshot instead.
  bool AttachBootstrapMembership(raftpb::Message& m);
  // Follower: adopts the membership a MsgApp at index 0 carries, if this
  // node has none and its log is empty.
  void MaybeAdoptBootstrapMembership(const raftpb::Message& m);
  void HandleHeartbeat(const raftpb::Message& m);
  void HandleAppendResponse(const raftpb::Message& m);
  void HandleHeartbeatResponse(const raftpb::Message& m);
  bool MaybeCommit();
  bool CommittedInCurrentTerm() const;

  // Snapshots (raft_snapshot.cc).
  bool StartSnapshot(uint64_t to, Progress& pr);
  void SendSnapshotChunk(uint64_t to, Progress& pr);
  void HandleSnapshot(const raftpb::Message& m);
  void HandleSnapshotResponse(const raftpb::Message& m);
  bool RestoreSnapshot(const raftpb::Snapshot& snap);
  void RetrySnapshotChunks();

  // Membership (raft_membership.cc).
  absl::Status ValidateConfChange(const raftpb::ConfChange& cc) const;
  void ApplyConfChange(const raftpb::ConfChange& cc);
  void ApplyConfChangeEntry(const raftpb::Entry& e);

  // ReadIndex (raft_read.cc).
  absl::Status HandleReadIndex(const raftpb::Message& m);
  void HandleReadAck(uint64_t from, const std::string& ctx);
  void ReleasePendingReads();
  void AnswerRead(uint64_t to, uint64_t index, const std::string& ctx);
  std::string LastPendingReadCtx() const;

  // Configuration.
  const uint64_t id_;
  const int election_timeout_;
  const int heartbeat_timeout_;
  const uint64_t max_size_per_msg_;
  const uint64_t snapshot_chunk_bytes_;
  const bool pre_vote_;
  const bool check_quorum_;
  const bool unsafe_read_without_quorum_;  // Config, test only
  Storage* const storage_;

  // Persistent state (HardState) and volatile state.
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t lead_ = kNone;
  Role role_ = Role::kFollower;
  RaftLog log_;
  ProgressTracker tracker_;
  // True once the membership this node's log builds on is known (a
  // ConfState with a voter, from storage or a snapshot); see above.
  bool membership_known_ = false;
  // The ConfState at index 0, fetched lazily by a leader. It never changes
  // once the cluster exists, so it is cached for the object's lifetime;
  // `bootstrap_superseded_` is set once storage's snapshot moved past index 0
  // (it never moves back).
  std::optional<raftpb::ConfState> bootstrap_conf_;
  bool bootstrap_superseded_ = false;
  StepFn step_ = nullptr;
  TickFn tick_ = nullptr;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;
  uint64_t rng_state_ = 0;

  uint64_t lead_transferee_ = kNone;
  // Index of the last conf-change entry appended by this leader (or the last
  // index at election, conservatively); no new change until it is applied.
  uint64_t pending_conf_index_ = 0;

  // Leader's ReadIndex bookkeeping: confirmed in arrival order.
  struct ReadRequest {
    uint64_t index = 0;
    std::string ctx;
    uint64_t from = kNone;
    std::set<uint64_t> acks;
  };
  std::deque<ReadRequest> reads_;
  // Requests that arrived before this leader committed an entry of its term.
  std::vector<raftpb::Message> pending_reads_;

  // Follower's partially received snapshot.
  struct SnapshotBuffer {
    uint64_t from = kNone;
    uint64_t term = 0;
    raftpb::SnapshotMetadata metadata;
    uint64_t total = 0;
    std::string data;
  };
  std::optional<SnapshotBuffer> snap_buf_;
  // Leader's cached copy of the storage snapshot being sent.
  std::optional<raftpb::Snapshot> snap_cache_;

  // Ready bookkeeping.
  std::vector<raftpb::Message> msgs_;
  std::vector<ReadState> read_states_;
  SoftState prev_soft_;
  raftpb::HardState prev_hard_;
};

}  // namespace berth::raft

#endif  // BERTH_LOCKSERVICE_RAFT_RAFT_IMPL_H_
