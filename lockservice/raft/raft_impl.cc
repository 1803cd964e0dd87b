// Construction, role changes and the term rules every message passes through.
#include "lockservice/raft/raft_impl.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::raft {

namespace {
bool IsLocal(raftpb::MessageType t) {
  return t == raftpb::MSG_HUP || t == raftpb::MSG_BEAT ||
         t == raftpb::MSG_CHECK_QUORUM || t == raftpb::MSG_UNREACHABLE;
}
bool IsVoteRequest(raftpb::MessageType t) {
  return t == raftpb::MSG_VOTE || t == raftpb::MSG_PRE_VOTE;
}
}  // namespace

RaftImpl::RaftImpl(const Config& c)
    : id_(c.id),
      election_timeout_(c.election_tick),
      heartbeat_timeout_(c.heartbeat_tick),
      max_size_per_msg_(c.max_size_per_msg),
      snapshot_chunk_bytes_(
          c.snapshot_chunk_bytes == 0 ? 1 : c.snapshot_chunk_bytes),
      pre_vote_(c.pre_vote),
      check_quorum_(c.check_quorum),
      unsafe_read_without_quorum_(c.test_only_unsafe_read_index_without_quorum),
      storage_(c.storage),
      log_(c.storage),
      tracker_(c.max_inflight_msgs, c.max_inflight_bytes) {
  // SplitMix64 state, distinct per replica even with a shared seed.
  rng_state_ = c.seed ^ (c.id * 0x9E3779B97F4A7C15ULL);
}

absl::StatusOr<std::unique_ptr<RaftImpl>> RaftImpl::New(const Config& c) {
  if (c.id == kNone)
    return absl::InvalidArgumentError("config: id must be > 0");
  if (c.storage == nullptr) {
    return absl::InvalidArgumentError("config: storage is null");
  }
  if (c.heartbeat_tick <= 0) {
    return absl::InvalidArgumentError("config: heartbeat_tick must be > 0");
  }
  if (c.election_tick <= c.heartbeat_tick) {
    return absl::InvalidArgumentError(
        "config: election_tick must be greater than heartbeat_tick");
  }
  if (c.max_inflight_msgs <= 0) {
    return absl::InvalidArgumentError("config: max_inflight_msgs must be > 0");
  }
  std::unique_ptr<RaftImpl> r(new RaftImpl(c));
  if (absl::Status s = r->Restore(c); !s.ok()) return s;
  return r;
}

absl::Status RaftImpl::Restore(const Config& c) {
  absl::StatusOr<InitialState> st = storage_->GetInitialState();
  if (!st.ok()) return st.status();
  const raftpb::HardState& hs = st->hard_state;
  if (hs.commit() > log_.LastIndex()) {
    return absl::DataLossError(
        absl::StrCat("storage: hard state commit ", hs.commit(),
                     " is beyond last index ", log_.LastIndex()));
  }
  tracker_.SetConf(st->conf_state, log_.LastIndex() + 1);
  membership_known_ = !st->conf_state.voters().empty();
  log_.CommitTo(hs.commit());
  if (c.applied > log_.LastIndex()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: applied ", c.applied, " is beyond last index ",
                     log_.LastIndex(), " (state machine from another log?)"));
  }
  // The application only ever applies committed entries, so an applied
  // index past the stored commit proves those entries committed: the driver
  // applies entries that are durable here and committed before it persists
  // the HardState that records the new commit (it overlaps the two).
  if (c.applied > hs.commit()) log_.CommitTo(c.applied);
  // Membership as of `applied`: re-apply the conf changes the application
  // already applied (see the membership rule in raft_impl.h).
  const uint64_t applied = std::max(c.applied, log_.applied());
  if (applied >= log_.FirstIndex()) {
    absl::StatusOr<std::vector<raftpb::Entry>> ents =
        log_.Slice(log_.FirstIndex(), applied + 1, UINT64_MAX);
    if (!ents.ok()) return ents.status();
    for (const raftpb::Entry& e : *ents) ApplyConfChangeEntry(e);
  }
  log_.SetApplied(applied);
  BecomeFollower(hs.term(), kNone);
  vote_ = hs.vote();
  prev_hard_ = hs;
  prev_soft_ = SoftState{lead_, role_};
  return absl::OkStatus();
}

uint64_t RaftImpl::NextRandom() {
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void RaftImpl::ResetRandomizedTimeout() {
  // §5.2: randomized in [election_timeout, 2*election_timeout).
  randomized_timeout_ =
      election_timeout_ + static_cast<int>(NextRandom() % election_timeout_);
}

void RaftImpl::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedTimeout();
  AbortLeaderTransfer();
  tracker_.ResetVotes();
  tracker_.ResetAll(log_.LastIndex(), id_, log_.PersistedIndex());
  pending_conf_index_ = 0;
  reads_.clear();
  pending_reads_.clear();
  snap_cache_.reset();
}

void RaftImpl::BecomeFollower(uint64_t term, uint64_t lead) {
  step_ = &RaftImpl::StepFollower;
  tick_ = &RaftImpl::TickElection;
  Reset(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void RaftImpl::BecomePreCandidate() {
  // Pre-vote changes neither term nor vote (thesis §9.6).
  step_ = &RaftImpl::StepCandidate;
  tick_ = &RaftImpl::TickElection;
  tracker_.ResetVotes();
  lead_ = kNone;
  role_ = Role::kPreCandidate;
}

void RaftImpl::BecomeCandidate() {
  step_ = &RaftImpl::StepCandidate;
  tick_ = &RaftImpl::TickElection;
  Reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void RaftImpl::BecomeLeader() {
  step_ = &RaftImpl::StepLeader;
  tick_ = &RaftImpl::TickHeartbeat;
  Reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  if (Progress* self = tracker_.Get(id_)) self->BecomeReplicate();
  // Conservatively treat any unapplied entry as a pending conf change.
  pending_conf_index_ = log_.LastIndex();
  // An entry of the new term lets the leader commit (§5.4.2, Figure 8) and
  // learn the commit index before serving reads (thesis §6.4).
  std::vector<raftpb::Entry> noop(1);
  AppendEntries(std::move(noop));
}

void RaftImpl::Send(raftpb::Message m) {
  m.set_from(id_);
  // Proposals and read requests forwarded to the leader are treated like
  // local messages and carry no term; vote messages set theirs explicitly.
  if (m.term() == 0 && m.type() != raftpb::MSG_PROP &&
      m.type() != raftpb::MSG_READ_INDEX) {
    m.set_term(term_);
  }
  msgs_.push_back(std::move(m));
}

absl::Status RaftImpl::StepInternal(const raftpb::Message& m) {
  if (m.term() == 0 || IsLocal(m.type())) {
    // Local message or a forwarded proposal / read request.
  } else if (m.term() > term_) {
    if (IsVoteRequest(m.type())) {
      const bool force = m.context() == kCampaignTransfer;
      const bool in_lease =
          (check_quorum_ || m.type() == raftpb::MSG_PRE_VOTE) &&
          lead_ != kNone && election_elapsed_ < election_timeout_;
      // Thesis §9.6: while we hear from a live leader, a disruptive
      // candidate's (pre-)vote request is ignored, and our term is kept.
      if (!force && in_lease) return absl::OkStatus();
    }
    if (m.type() == raftpb::MSG_PRE_VOTE) {
      // Never change term in response to a pre-vote.
    } else if (m.type() == raftpb::MSG_PRE_VOTE_RESP && !m.reject()) {
      // A granted pre-vote carries the term we will campaign at.
    } else if (m.type() == raftpb::MSG_APP ||
               m.type() == raftpb::MSG_HEARTBEAT ||
               m.type() == raftpb::MSG_SNAP) {
      BecomeFollower(m.term(), m.from());
    } else {
      BecomeFollower(m.term(), kNone);
    }
  } else if (m.term() < term_) {
    if ((check_quorum_ || pre_vote_) &&
        (m.type() == raftpb::MSG_HEARTBEAT || m.type() == raftpb::MSG_APP)) {
      // A stale leader (e.g. back from a partition, or whose term we passed
      // through pre-vote-less elections) learns our term and steps down.
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_type(raftpb::MSG_APP_RESP);
      Send(std::move(resp));
    } else if (m.type() == raftpb::MSG_PRE_VOTE) {
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_type(raftpb::MSG_PRE_VOTE_RESP);
      resp.set_term(term_);
      resp.set_reject(true);
      Send(std::move(resp));
    }
    return absl::OkStatus();
  }

  switch (m.type()) {
    case raftpb::MSG_HUP:
      if (role_ != Role::kLeader) Hup(/*transfer=*/false);
      return absl::OkStatus();
    case raftpb::MSG_VOTE:
    case raftpb::MSG_PRE_VOTE:
      HandleVoteRequest(m);
      return absl::OkStatus();
    default:
      return (this->*step_)(m);
  }
}

absl::Status RaftImpl::StepFollower(const raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MSG_PROP:
      if (lead_ == kNone) {
        return absl::FailedPreconditionError("propose: no leader");
      }
      if (lead_transferee_ != kNone) {
        return absl::FailedPreconditionError(
            "propose: leadership transfer in progress");
      }
      {
        raftpb::Message fwd = m;
        fwd.set_to(lead_);
        Send(std::move(fwd));
      }
      return absl::OkStatus();
    case raftpb::MSG_APP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppendEntries(m);
      return absl::OkStatus();
    case raftpb::MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      return absl::OkStatus();
    case raftpb::MSG_SNAP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      return absl::OkStatus();
    case raftpb::MSG_TRANSFER_LEADER:
      if (lead_ == kNone) {
        return absl::FailedPreconditionError("transfer leadership: no leader");
      }
      {
        // `from` names the transferee, so forward the message unchanged.
        raftpb::Message fwd = m;
        fwd.set_to(lead_);
        fwd.set_term(0);
        msgs_.push_back(std::move(fwd));
      }
      return absl::OkStatus();
    case raftpb::MSG_TIMEOUT_NOW:
      // Thesis §3.10: the transferee campaigns at once, without pre-vote.
      Hup(/*transfer=*/true);
      return absl::OkStatus();
    case raftpb::MSG_READ_INDEX:
      if (lead_ == kNone) {
        return absl::FailedPreconditionError("read index: no leader");
      }
      {
        raftpb::Message fwd = m;
        fwd.set_to(lead_);
        Send(std::move(fwd));
      }
      return absl::OkStatus();
    case raftpb::MSG_READ_INDEX_RESP:
      read_states_.push_back(ReadState{m.index(), m.context()});
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

absl::Status RaftImpl::StepCandidate(const raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MSG_PROP:
      return absl::FailedPreconditionError("propose: no leader (election)");
    case raftpb::MSG_READ_INDEX:
      return absl::FailedPreconditionError("read index: no leader (election)");
    case raftpb::MSG_TRANSFER_LEADER:
      return absl::FailedPreconditionError(
          "transfer leadership: no leader (election)");
    case raftpb::MSG_APP:
    case raftpb::MSG_HEARTBEAT:
    case raftpb::MSG_SNAP:
      // A leader of our term exists (§5.2): give up.
      BecomeFollower(m.term(), m.from());
      return StepFollower(m);
    case raftpb::MSG_VOTE_RESP:
    case raftpb::MSG_PRE_VOTE_RESP:
      HandleVoteResponse(m);
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

absl::Status RaftImpl::StepLeader(const raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MSG_BEAT:
      BcastHeartbeat();
      return absl::OkStatus();
    case raftpb::MSG_CHECK_QUORUM:
      CheckQuorum();
      return absl::OkStatus();
    case raftpb::MSG_PROP:
      return HandlePropose(m);
    case raftpb::MSG_READ_INDEX:
      return HandleReadIndex(m);
    case raftpb::MSG_TRANSFER_LEADER:
      return HandleTransferLeader(m);
    default:
      break;
  }
  Progress* pr = tracker_.Get(m.from());
  if (pr == nullptr) return absl::OkStatus();  // not (or no longer) a member
  switch (m.type()) {
    case raftpb::MSG_APP_RESP:
      pr->recent_active = true;
      HandleAppendResponse(m);
      break;
    case raftpb::MSG_HEARTBEAT_RESP:
      pr->recent_active = true;
      HandleHeartbeatResponse(m);
      break;
    case raftpb::MSG_SNAP_RESP:
      pr->recent_active = true;
      HandleSnapshotResponse(m);
      break;
    case raftpb::MSG_UNREACHABLE:
      if (pr->state == ProgressState::kReplicate) {
        pr->BecomeProbe();
      } else if (pr->state == ProgressState::kSnapshot) {
        pr->snap_idle_beats = 1 << 20;  // resend the chunk at the next beat
      }
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

}  // namespace berth::raft
