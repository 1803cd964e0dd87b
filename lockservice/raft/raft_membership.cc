// Single-server membership changes (thesis §4.1) with learners catching up
// before they vote (thesis §4.2.1).
#include "absl/strings/str_cat.h"
#include "lockservice/raft/raft_impl.h"

namespace berth::raft {

absl::Status RaftImpl::ValidateConfChange(const raftpb::ConfChange& cc) const {
  const uint64_t id = cc.node_id();
  if (id == kNone) {
    return absl::InvalidArgumentError("conf change: node_id must be > 0");
  }
  const Progress* pr = tracker_.Get(id);
  switch (cc.type()) {
    case raftpb::CONF_ADD_LEARNER:
      if (pr != nullptr && pr->learner) {
        return absl::AlreadyExistsError(
            absl::StrCat("conf change: node ", id, " is already a learner"));
      }
      if (pr != nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "conf change: node ", id,
            " is a voter; remove it instead of demoting it to learner"));
      }
      return absl::OkStatus();
    case raftpb::CONF_ADD_VOTER:
      if (pr != nullptr && !pr->learner) {
        return absl::AlreadyExistsError(
            absl::StrCat("conf change: node ", id, " is already a voter"));
      }
      return absl::OkStatus();
    case raftpb::CONF_REMOVE_NODE:
      if (pr == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("conf change: node ", id, " is not a member"));
      }
      if (!pr->learner && tracker_.VoterCount() == 1) {
        return absl::FailedPreconditionError(absl::StrCat(
            "conf change: node ", id, " is the last voter; cannot remove it"));
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("conf change: unknown type ", cc.type()));
  }
}

void RaftImpl::ApplyConfChangeEntry(const raftpb::Entry& e) {
  if (e.type() != raftpb::ENTRY_CONF_CHANGE) return;
  raftpb::ConfChange cc;
  // Entries were validated when proposed; an unparsable one is skipped.
  if (!cc.ParseFromString(e.data())) return;
  ApplyConfChange(cc);
}

void RaftImpl::ApplyConfChange(const raftpb::ConfChange& cc) {
  const uint64_t next = log_.LastIndex() + 1;
  switch (cc.type()) {
    case raftpb::CONF_ADD_LEARNER:
      tracker_.AddLearner(cc.node_id(), next);
      break;
    case raftpb::CONF_ADD_VOTER:
      tracker_.AddVoter(cc.node_id(), next);
      break;
    case raftpb::CONF_REMOVE_NODE:
      if (tracker_.IsVoter(cc.node_id()) && tracker_.VoterCount() == 1) {
        return;  // never leave a cluster without voters
      }
      tracker_.Remove(cc.node_id());
      break;
    default:
      return;
  }
  if (role_ != Role::kLeader) return;
  if (!tracker_.IsVoter(id_)) {
    // The leader was removed: it keeps leading until the change is applied,
    // then steps down and the remaining voters elect a new leader.
    BecomeFollower(term_, kNone);
    return;
  }
  if (lead_transferee_ != kNone && !tracker_.IsVoter(lead_transferee_)) {
    AbortLeaderTransfer();
  }
  // A smaller quorum may commit more; new members need entries.
  if (MaybeCommit()) {
    BcastAppend();
  } else if (cc.type() != raftpb::CONF_REMOVE_NODE) {
    MaybeSendAppend(cc.node_id(), /*send_if_empty=*/true);
  }
}

bool RaftImpl::AttachBootstrapMembership(raftpb::Message& m) {
  if (bootstrap_superseded_) return false;
  if (!bootstrap_conf_) {
    // Rare (only followers at index 0, i.e. joiners and a young cluster),
    // and at index 0 the snapshot has no state-machine image to read.
    absl::StatusOr<raftpb::Snapshot> snap = storage_->GetSnapshot();
    if (!snap.ok()) return false;  // being produced; StartSnapshot retries
    if (snap->metadata().index() != 0) {
      bootstrap_superseded_ = true;
      return false;
    }
    bootstrap_conf_ = snap->metadata().conf_state();
  }
  if (bootstrap_conf_->voters().empty()) {
    // Only a node that never learned its membership lacks it, and such a
    // node cannot lead (Promotable). Send the entries without it.
    return true;
  }
  raftpb::SnapshotMetadata* meta = m.mutable_snapshot()->mutable_metadata();
  meta->set_index(0);
  meta->set_term(0);
  *meta->mutable_conf_state() = *bootstrap_conf_;
  return true;
}

void RaftImpl::MaybeAdoptBootstrapMembership(const raftpb::Message& m) {
  const raftpb::SnapshotMetadata& meta = m.snapshot().metadata();
  if (membership_known_ || meta.index() != 0 ||
      meta.conf_state().voters().empty()) {
    return;
  }
  // Installing a snapshot resets the log, and a node must never drop entries
  // it may have acknowledged: adopt only into an empty log. (With this core
  // on the leader, a joiner's first accepted MsgApp always carries the
  // membership, so a non-empty log without one does not arise.)
  if (log_.LastIndex() != 0 || log_.unstable_snapshot()) return;
  raftpb::Snapshot snap;  // membership only: index 0, term 0, no image
  *snap.mutable_metadata() = meta;
  log_.Restore(snap);
  tracker_.SetConf(meta.conf_state(), log_.LastIndex() + 1);
  membership_known_ = true;
  bootstrap_conf_ = meta.conf_state();
}

}  // namespace berth::raft
