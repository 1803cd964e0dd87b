// The public API: local inputs (tick, proposals, requests) and the
// Ready/Advance handshake with the driver.
#include <utility>

#include "absl/strings/str_cat.h"
#include "lockservice/raft/raft_impl.h"

namespace berth::raft {

namespace {
// Upper bound on committed entry bytes handed out in one Ready, so a node
// catching up applies in bounded batches.
constexpr uint64_t kMaxCommittedBytesPerReady = 64 << 20;

bool HardStateEqual(const raftpb::HardState& a, const raftpb::HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() &&
         a.commit() == b.commit();
}
}  // namespace

void RaftImpl::Tick() { (this->*tick_)(); }

absl::Status RaftImpl::Step(const raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MSG_HUP:
    case raftpb::MSG_BEAT:
    case raftpb::MSG_CHECK_QUORUM:
    case raftpb::MSG_UNREACHABLE:
      return absl::InvalidArgumentError(absl::StrCat(
          "step: ", raftpb::MessageType_Name(m.type()),
          " is a local message; use the corresponding Raft method"));
    default:
      break;
  }
  return StepInternal(m);
}

absl::Status RaftImpl::Campaign() {
  if (!membership_known_) {
    return absl::FailedPreconditionError(
        "campaign: cluster membership not known yet (a joining node learns it "
        "from the leader first)");
  }
  if (!Promotable()) {
    return absl::FailedPreconditionError("campaign: this node is not a voter");
  }
  raftpb::Message m;
  m.set_type(raftpb::MSG_HUP);
  return StepInternal(m);
}

absl::Status RaftImpl::Propose(std::string data) {
  raftpb::Message m;
  m.set_type(raftpb::MSG_PROP);
  m.set_from(id_);
  m.add_entries()->set_data(std::move(data));
  return StepInternal(m);
}

absl::Status RaftImpl::ProposeConfChange(const raftpb::ConfChange& cc) {
  if (role_ == Role::kLeader) {
    if (pending_conf_index_ > log_.applying()) {
      return absl::FailedPreconditionError(
          "propose conf change: another change is still pending");
    }
    if (absl::Status s = ValidateConfChange(cc); !s.ok()) return s;
  }
  raftpb::Message m;
  m.set_type(raftpb::MSG_PROP);
  m.set_from(id_);
  raftpb::Entry* e = m.add_entries();
  e->set_type(raftpb::ENTRY_CONF_CHANGE);
  e->set_data(cc.SerializeAsString());
  return StepInternal(m);
}

absl::Status RaftImpl::ReadIndex(std::string request_ctx) {
  raftpb::Message m;
  m.set_type(raftpb::MSG_READ_INDEX);
  m.set_from(id_);
  m.set_context(std::move(request_ctx));
  return StepInternal(m);
}

absl::Status RaftImpl::TransferLeadership(uint64_t transferee) {
  if (transferee == kNone) {
    return absl::InvalidArgumentError("transfer leadership: target id is 0");
  }
  raftpb::Message m;
  m.set_type(raftpb::MSG_TRANSFER_LEADER);
  m.set_from(transferee);
  return StepInternal(m);
}

void RaftImpl::ReportUnreachable(uint64_t id) {
  raftpb::Message m;
  m.set_type(raftpb::MSG_UNREACHABLE);
  m.set_from(id);
  (void)StepInternal(m);
}

bool RaftImpl::HasReady() const {
  if (!(SoftState{lead_, role_} == prev_soft_)) return true;
  raftpb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  if (!HardStateEqual(hs, prev_hard_)) return true;
  return !msgs_.empty() || !read_states_.empty() || log_.HasUnstableToSave() ||
         log_.HasNextCommitted();
}

Ready RaftImpl::GetReady() {
  Ready rd;
  const SoftState soft{lead_, role_};
  if (!(soft == prev_soft_)) {
    rd.soft_state = soft;
    prev_soft_ = soft;
  }
  if (log_.unstable_snapshot() && !log_.snapshot_in_progress()) {
    rd.snapshot = *log_.unstable_snapshot();
    log_.MarkSnapshotInProgress();
  }
  rd.entries = log_.TakeUnstableEntries();
  rd.committed_entries = log_.NextCommitted(kMaxCommittedBytesPerReady);
  // Membership changes take effect as they are handed out (raft_impl.h).
  for (const raftpb::Entry& e : rd.committed_entries) ApplyConfChangeEntry(e);
  raftpb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  if (!HardStateEqual(hs, prev_hard_)) {
    rd.must_sync =
        hs.term() != prev_hard_.term() || hs.vote() != prev_hard_.vote();
    rd.hard_state = hs;
    prev_hard_ = hs;
  }
  rd.must_sync = rd.must_sync || !rd.entries.empty() || rd.snapshot.has_value();
  // Applying a conf change may have produced messages; take them last.
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  return rd;
}

void RaftImpl::Advance(const Ready& rd) {
  if (rd.snapshot) {
    log_.StableSnapTo(rd.snapshot->metadata().index());
    log_.SetApplied(rd.snapshot->metadata().index());
  }
  if (!rd.entries.empty()) {
    const raftpb::Entry& last = rd.entries.back();
    OnPersisted(last.index(), last.term());
  }
  if (!rd.committed_entries.empty()) {
    log_.SetApplied(rd.committed_entries.back().index());
  }
}

Status RaftImpl::GetStatus() const {
  Status st;
  st.id = id_;
  st.hard_state.set_term(term_);
  st.hard_state.set_vote(vote_);
  st.hard_state.set_commit(log_.committed());
  st.soft_state = SoftState{lead_, role_};
  st.applied = log_.applied();
  st.last_index = log_.LastIndex();
  st.conf_state = tracker_.Conf();
  st.lead_transferee = lead_transferee_;
  if (role_ == Role::kLeader) {
    for (const auto& [id, pr] : tracker_.progress()) {
      PeerProgress p;
      p.match = pr.match;
      p.next = pr.next;
      p.learner = pr.learner;
      p.recent_active = pr.recent_active;
      p.state = ProgressStateName(pr.state);
      st.progress.emplace(id, std::move(p));
    }
  }
  return st;
}

}  // namespace berth::raft
