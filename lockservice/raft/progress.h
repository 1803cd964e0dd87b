// Leader-side bookkeeping of each peer's replication (etcd-raft's "tracker").
//
//  * Inflights: a ring of the last index of each un-acked MsgApp, bounded by
//    count and by bytes, so a slow follower cannot make the leader buffer an
//    unbounded pipeline.
//  * Progress: one peer's match/next and its state:
//      probe     - one MsgApp at a time until the follower's log position is
//                  known (after election or a rejection);
//      replicate - pipelined: next advances optimistically, flow-controlled by
//                  Inflights;
//      snapshot  - the peer needs entries we compacted; a chunked snapshot
//                  transfer is in flight and MsgApp is paused.
//  * ProgressTracker: the membership (voters, learners) with a Progress per
//    member, plus quorum arithmetic for commit, votes and check-quorum.
//    Members are kept in a std::map so every iteration is in id order: the
//    core's output must not depend on hash order.
//
// Thread safety: none; owned by the RaftImpl.
#ifndef BERTH_LOCKSERVICE_RAFT_PROGRESS_H_
#define BERTH_LOCKSERVICE_RAFT_PROGRESS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proto/raft.pb.h"

namespace berth::raft {

class Inflights {
 public:
  Inflights(int max_msgs, uint64_t max_bytes);

  void Add(uint64_t index, uint64_t bytes);
  // Frees every in-flight message whose last index is <= `index`.
  void FreeLE(uint64_t index);
  // Frees the oldest in-flight message (recovery when acks were lost).
  void FreeFirstOne();
  bool Full() const;
  int count() const { return count_; }
  uint64_t bytes() const { return bytes_; }
  void Reset();

 private:
  struct Item {
    uint64_t index = 0;
    uint64_t bytes = 0;
  };
  int max_msgs_;
  uint64_t max_bytes_;  // 0 = unlimited
  std::vector<Item> ring_;
  int start_ = 0;
  int count_ = 0;
  uint64_t bytes_ = 0;
};

enum class ProgressState { kProbe, kReplicate, kSnapshot };
const char* ProgressStateName(ProgressState s);

struct Progress {
  Progress(uint64_t next, int max_inflight_msgs, uint64_t max_inflight_bytes)
      : next(next), inflights(max_inflight_msgs, max_inflight_bytes) {}

  void BecomeProbe();
  void BecomeReplicate();
  // Starts (or restarts) a snapshot transfer of the snapshot at `index`.
  void BecomeSnapshot(uint64_t index);
  // Records an acknowledgment of entries up to `n`; false if it is stale.
  bool MaybeUpdate(uint64_t n);
  // Handles a rejected MsgApp for `rejected`; false if the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  bool IsPaused() const;

  uint64_t match = 0;
  uint64_t next = 0;
  ProgressState state = ProgressState::kProbe;
  // Probe: a MsgApp is outstanding; wait for a response or heartbeat.
  bool probe_sent = false;
  bool recent_active = false;
  bool learner = false;
  Inflights inflights;

  // Snapshot transfer (state == kSnapshot): which snapshot, how many bytes the
  // follower confirmed, and heartbeats since the last ack (to retry a lost
  // chunk).
  uint64_t snap_index = 0;
  uint64_t snap_acked = 0;
  int snap_idle_beats = 0;
};

enum class VoteResult { kPending, kWon, kLost };

class ProgressTracker {
 public:
  ProgressTracker(int max_inflight_msgs, uint64_t max_inflight_bytes)
      : max_inflight_msgs_(max_inflight_msgs),
        max_inflight_bytes_(max_inflight_bytes) {}

  // Replaces the membership; existing peers keep their progress.
  void SetConf(const raftpb::ConfState& cs, uint64_t next);
  raftpb::ConfState Conf() const;

  // Adds or updates one member (used when applying a ConfChange).
  void AddVoter(uint64_t id, uint64_t next);
  void AddLearner(uint64_t id, uint64_t next);
  void Remove(uint64_t id);

  bool IsVoter(uint64_t id) const;
  bool IsMember(uint64_t id) const { return prs_.count(id) != 0; }
  int VoterCount() const;
  Progress* Get(uint64_t id);
  const Progress* Get(uint64_t id) const;
  std::map<uint64_t, Progress>& progress() { return prs_; }
  const std::map<uint64_t, Progress>& progress() const { return prs_; }

  // Largest index replicated on a quorum of voters.
  uint64_t QuorumMatch() const;
  // True if a quorum of voters (counting `self`) was recently active.
  bool QuorumActive(uint64_t self) const;
  // Resets every progress to last_index + 1 in probe state (a new leader);
  // `self` matches what its own log holds durably, `self_match`.
  void ResetAll(uint64_t last_index, uint64_t self, uint64_t self_match);

  // Elections.
  void ResetVotes() { votes_.clear(); }
  void RecordVote(uint64_t id, bool granted);
  VoteResult TallyVotes() const;

 private:
  int max_inflight_msgs_;
  uint64_t max_inflight_bytes_;
  std::map<uint64_t, Progress> prs_;
  std::map<uint64_t, bool> votes_;
};

}  // namespace berth::raft

#endif  // BERTH_LOCKSERVICE_RAFT_PROGRESS_H_
