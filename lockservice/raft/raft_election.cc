// Leader election (§5.2, §5.4.1), pre-vote and check-quorum (thesis §9.6),
// and leadership transfer (thesis §3.10).
#include <utility>

#include "lockservice/raft/raft_impl.h"

namespace berth::raft {

bool RaftImpl::Promotable() const {
  // Without its base membership a node's voter set is a guess (e.g. only the
  // changes it has seen, which could make it a quorum of one).
  return membership_known_ && tracker_.IsVoter(id_);
}

bool RaftImpl::HasUnappliedConfChanges() const {
  // A node must not campaign with a membership it has committed but not yet
  // applied: it might count the wrong quorum.
  if (log_.committed() <= log_.applying()) return false;
  absl::StatusOr<std::vector<raftpb::Entry>> ents =
      log_.Slice(log_.applying() + 1, log_.committed() + 1, UINT64_MAX);
  if (!ents.ok()) return true;
  for (const raftpb::Entry& e : *ents) {
    if (e.type() == raftpb::ENTRY_CONF_CHANGE) return true;
  }
  return false;
}

void RaftImpl::TickElection() {
  ++election_elapsed_;
  if (Promotable() && election_elapsed_ >= randomized_timeout_) {
    election_elapsed_ = 0;
    Hup(/*transfer=*/false);
  }
}

void RaftImpl::Hup(bool transfer) {
  if (role_ == Role::kLeader || !Promotable() || HasUnappliedConfChanges()) {
    return;
  }
  StartCampaign(/*pre_vote=*/pre_vote_ && !transfer, transfer);
}

void RaftImpl::StartCampaign(bool pre_vote, bool transfer) {
  raftpb::MessageType type;
  uint64_t term;
  if (pre_vote) {
    BecomePreCandidate();
    type = raftpb::MSG_PRE_VOTE;
    term = term_ + 1;  // the term we would campaign at; ours stays put
  } else {
    BecomeCandidate();
    type = raftpb::MSG_VOTE;
    term = term_;
  }
  tracker_.RecordVote(id_, true);
  if (tracker_.TallyVotes() == VoteResult::kWon) {
    // Single voter: no one to ask.
    if (pre_vote) {
      StartCampaign(false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (const auto& [to, pr] : tracker_.progress()) {
    if (to == id_ || pr.learner) continue;
    raftpb::Message m;
    m.set_to(to);
    m.set_type(type);
    m.set_term(term);
    m.set_index(log_.LastIndex());
    m.set_log_term(log_.LastTerm());
    if (transfer) m.set_context(kCampaignTransfer);
    Send(std::move(m));
  }
}

void RaftImpl::HandleVoteRequest(const raftpb::Message& m) {
  const bool pre = m.type() == raftpb::MSG_PRE_VOTE;
  // §5.2 one vote per term (a repeated request from our candidate is fine);
  // a pre-vote for a future term does not bind us.
  const bool can_vote = vote_ == m.from() ||
                        (vote_ == kNone && lead_ == kNone) ||
                        (pre && m.term() > term_);
  // A learner answers too: it may have been promoted by an entry it has not
  // applied yet, and the candidate counts only votes from its own voters, so
  // answering is safe. Refusing can wedge a cluster that needs this vote
  // (found by berth-raft-sim, seed 8934, 3 nodes).
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(pre ? raftpb::MSG_PRE_VOTE_RESP : raftpb::MSG_VOTE_RESP);
  // §5.4.1 election restriction: only for a log at least as up to date.
  if (can_vote && log_.IsUpToDate(m.index(), m.log_term())) {
    resp.set_term(m.term());
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    resp.set_term(term_);
    resp.set_reject(true);
  }
  Send(std::move(resp));
}

void RaftImpl::HandleVoteResponse(const raftpb::Message& m) {
  const bool pre = m.type() == raftpb::MSG_PRE_VOTE_RESP;
  if (pre != (role_ == Role::kPreCandidate)) return;  // stale phase
  tracker_.RecordVote(m.from(), !m.reject());
  switch (tracker_.TallyVotes()) {
    case VoteResult::kWon:
      if (pre) {
        StartCampaign(/*pre_vote=*/false, /*transfer=*/false);
      } else {
        BecomeLeader();
        BcastAppend();
      }
      break;
    case VoteResult::kLost:
      BecomeFollower(term_, kNone);
      break;
    case VoteResult::kPending:
      break;
  }
}

void RaftImpl::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      raftpb::Message m;
      m.set_type(raftpb::MSG_CHECK_QUORUM);
      (void)StepInternal(m);
      if (role_ != Role::kLeader) return;
    }
    // Thesis §3.10: a transfer that did not finish within an election
    // timeout is abandoned so the leader accepts proposals again.
    AbortLeaderTransfer();
  }
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    raftpb::Message m;
    m.set_type(raftpb::MSG_BEAT);
    (void)StepInternal(m);
  }
}

void RaftImpl::CheckQuorum() {
  // Thesis §9.6 check-quorum: a leader that has not heard from a majority
  // within an election timeout may be partitioned away; step down so clients
  // look for the real leader.
  if (!tracker_.QuorumActive(id_)) {
    BecomeFollower(term_, kNone);
    return;
  }
  for (auto& [id, pr] : tracker_.progress()) {
    if (id != id_) pr.recent_active = false;
  }
}

absl::Status RaftImpl::HandleTransferLeader(const raftpb::Message& m) {
  const uint64_t transferee = m.from();
  const Progress* pr = tracker_.Get(transferee);
  if (pr == nullptr) {
    return absl::NotFoundError("transfer leadership: target is not a member");
  }
  if (pr->learner) {
    return absl::FailedPreconditionError(
        "transfer leadership: target is a learner");
  }
  if (transferee == id_) return absl::OkStatus();  // already leader
  if (lead_transferee_ == transferee) return absl::OkStatus();  // in progress
  // A new target replaces an earlier one; the clock restarts.
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr->match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    MaybeSendAppend(transferee, /*send_if_empty=*/true);
  }
  return absl::OkStatus();
}

void RaftImpl::SendTimeoutNow(uint64_t to) {
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_TIMEOUT_NOW);
  Send(std::move(m));
}

}  // namespace berth::raft
