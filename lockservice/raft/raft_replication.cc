// Log replication (§5.3): proposals, AppendEntries with pipelining and flow
// control, heartbeats, and the commit rule (§5.4.2).
#include <algorithm>
#include <utility>

#include "lockservice/raft/entry_size.h"
#include "lockservice/raft/raft_impl.h"

namespace berth::raft {

absl::Status RaftImpl::HandlePropose(const raftpb::Message& m) {
  if (m.entries().empty()) {
    return absl::InvalidArgumentError("propose: no entries");
  }
  if (!tracker_.IsMember(id_)) {
    return absl::FailedPreconditionError(
        "propose: this leader was removed from the cluster");
  }
  if (lead_transferee_ != kNone) {
    return absl::FailedPreconditionError(
        "propose: leadership transfer in progress");
  }
  std::vector<raftpb::Entry> ents(m.entries().begin(), m.entries().end());
  for (size_t i = 0; i < ents.size(); ++i) {
    if (ents[i].type() != raftpb::ENTRY_CONF_CHANGE) continue;
    // Thesis §4.1: one membership change at a time.
    if (pending_conf_index_ > log_.applying()) {
      return absl::FailedPreconditionError(
          "propose conf change: another change is still pending");
    }
    raftpb::ConfChange cc;
    if (!cc.ParseFromString(ents[i].data())) {
      return absl::InvalidArgumentError(
          "propose conf change: entry data is not a ConfChange");
    }
    if (absl::Status s = ValidateConfChange(cc); !s.ok()) return s;
    pending_conf_index_ = log_.LastIndex() + i + 1;
  }
  AppendEntries(std::move(ents));
  BcastAppend();
  return absl::OkStatus();
}

void RaftImpl::AppendEntries(std::vector<raftpb::Entry>&& ents) {
  uint64_t index = log_.LastIndex();
  for (raftpb::Entry& e : ents) {
    e.set_term(term_);
    e.set_index(++index);
    log_.AppendOne(std::move(e));
  }
  // The leader's own copy counts toward a commit only once the driver
  // reports it durable (OnPersisted; thesis §10.2.1), so the driver may send
  // these entries to the followers before or while it writes them.
}

void RaftImpl::OnPersisted(uint64_t index, uint64_t term) {
  log_.StableTo(index, term);
  if (role_ != Role::kLeader) return;
  Progress* self = tracker_.Get(id_);
  if (self == nullptr || !self->MaybeUpdate(log_.PersistedIndex())) return;
  if (MaybeCommit()) BcastAppend();
}

bool RaftImpl::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  Progress* pr = tracker_.Get(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  absl::StatusOr<uint64_t> prev_term = log_.Term(pr->next - 1);
  absl::StatusOr<std::vector<raftpb::Entry>> ents =
      log_.Entries(pr->next, max_size_per_msg_);
  if (!prev_term.ok() || !ents.ok()) {
    // §7: the entries this follower needs were compacted; send a snapshot.
    return StartSnapshot(to, *pr);
  }
  if (ents->empty() && !send_if_empty) return false;
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_APP);
  m.set_index(pr->next - 1);
  m.set_log_term(*prev_term);
  m.set_commit(log_.committed());
  if (m.index() == 0 && !AttachBootstrapMembership(m)) {
    // Thesis §4.1: the follower must learn the membership the log builds
    // on, and only a snapshot still holds it.
    return StartSnapshot(to, *pr);
  }
  if (!ents->empty()) {
    const uint64_t last = ents->back().index();
    uint64_t bytes = 0;
    for (const raftpb::Entry& e : *ents) bytes += EntrySize(e);
    if (pr->state == ProgressState::kReplicate) {
      // Pipelining: assume success and keep going, bounded by Inflights.
      pr->next = last + 1;
      pr->inflights.Add(last, bytes);
    } else {
      pr->probe_sent = true;
    }
    m.mutable_entries()->Reserve(ents->size());
    for (raftpb::Entry& e : *ents) *m.add_entries() = std::move(e);
  } else if (pr->state == ProgressState::kProbe) {
    pr->probe_sent = true;
  }
  Send(std::move(m));
  return true;
}

void RaftImpl::BcastAppend() {
  for (const auto& [to, pr] : tracker_.progress()) {
    if (to != id_) MaybeSendAppend(to, /*send_if_empty=*/true);
  }
}

void RaftImpl::SendHeartbeat(uint64_t to, const std::string& ctx) {
  const Progress* pr = tracker_.Get(to);
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_HEARTBEAT);
  // Never tell a follower to commit entries it may not have.
  m.set_commit(std::min(pr->match, log_.committed()));
  m.set_context(ctx);
  Send(std::move(m));
}

void RaftImpl::BcastHeartbeat() {
  const std::string ctx = LastPendingReadCtx();
  for (const auto& [to, pr] : tracker_.progress()) {
    if (to != id_) SendHeartbeat(to, ctx);
  }
  RetrySnapshotChunks();
}

namespace {

// A leader's AppendEntries carries entries numbered index+1, index+2, ...
// whose terms never fall below log_term or rise above the message's term.
bool WellFormedAppend(const raftpb::Message& m) {
  uint64_t prev_term = m.log_term();
  for (int i = 0; i < m.entries_size(); ++i) {
    const raftpb::Entry& e = m.entries(i);
    if (e.index() != m.index() + 1 + static_cast<uint64_t>(i) ||
        e.term() < prev_term || e.term() > m.term()) {
      return false;
    }
    prev_term = e.term();
  }
  return m.log_term() <= m.term();
}

}  // namespace

void RaftImpl::HandleAppendEntries(const raftpb::Message& m) {
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_APP_RESP);
  if (m.index() < log_.committed()) {
    // Already committed here, so it matches (log matching, §5.3).
    resp.set_index(log_.committed());
    Send(std::move(resp));
    return;
  }
  if (!WellFormedAppend(m)) {
    // No leader sends this; answering or appending it could only corrupt
    // the log (found by tests/fuzz/raft_step_fuzz: a commit past the log
    // after entries with the wrong indexes aborted the replica). Dropped
    // like a message lost on the wire.
    return;
  }
  if (m.index() == 0) MaybeAdoptBootstrapMembership(m);
  std::vector<raftpb::Entry> ents(m.entries().begin(), m.entries().end());
  std::optional<uint64_t> last_new =
      log_.MaybeAppend(m.index(), m.log_term(), m.commit(), std::move(ents));
  if (last_new) {
    resp.set_index(*last_new);
    Send(std::move(resp));
    return;
  }
  // §5.3 consistency check failed. Fast back-off: point the leader at our
  // last entry whose term is <= the leader's log_term at m.index, so it can
  // skip a whole term of conflicting entries per round trip.
  const uint64_t hint_index = std::min(m.index(), log_.LastIndex());
  const auto [hint, hint_term] =
      log_.FindConflictByTerm(hint_index, m.log_term());
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(hint);
  resp.set_log_term(hint_term);
  Send(std::move(resp));
}

void RaftImpl::HandleHeartbeat(const raftpb::Message& m) {
  log_.CommitTo(std::min(m.commit(), log_.LastIndex()));
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_HEARTBEAT_RESP);
  resp.set_context(m.context());
  Send(std::move(resp));
}

void RaftImpl::HandleAppendResponse(const raftpb::Message& m) {
  Progress* pr = tracker_.Get(m.from());
  if (m.reject()) {
    uint64_t next_probe = m.reject_hint();
    if (m.log_term() > 0) {
      // Skip every entry of ours with a term above the follower's.
      next_probe = log_.FindConflictByTerm(m.reject_hint(), m.log_term()).first;
    }
    if (pr->MaybeDecrTo(m.index(), next_probe)) {
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      MaybeSendAppend(m.from(), /*send_if_empty=*/true);
    }
    return;
  }
  const bool was_paused = pr->IsPaused();
  if (!pr->MaybeUpdate(m.index()) &&
      !(pr->match == m.index() && pr->state == ProgressState::kProbe)) {
    return;  // stale
  }
  switch (pr->state) {
    case ProgressState::kProbe:
      pr->BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      if (pr->match + 1 >= log_.FirstIndex()) {
        // Caught up through the log after all; the snapshot is moot.
        pr->BecomeProbe();
        pr->BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr->inflights.FreeLE(m.index());
      break;
  }
  if (MaybeCommit()) {
    BcastAppend();
  } else if (was_paused) {
    MaybeSendAppend(m.from(), /*send_if_empty=*/true);
  }
  while (MaybeSendAppend(m.from(), /*send_if_empty=*/false)) {
  }
  if (m.from() == lead_transferee_ && pr->match == log_.LastIndex()) {
    SendTimeoutNow(m.from());
  }
}

void RaftImpl::HandleHeartbeatResponse(const raftpb::Message& m) {
  Progress* pr = tracker_.Get(m.from());
  pr->probe_sent = false;
  // A lost MsgApp can leave the window full forever; free one slot so the
  // pipeline resumes (the follower will reject a gap and we re-probe).
  if (pr->state == ProgressState::kReplicate && pr->inflights.Full()) {
    pr->inflights.FreeFirstOne();
  }
  if (pr->match < log_.LastIndex() || pr->state == ProgressState::kProbe) {
    MaybeSendAppend(m.from(), /*send_if_empty=*/true);
  }
  if (!m.context().empty()) HandleReadAck(m.from(), m.context());
}

bool RaftImpl::CommittedInCurrentTerm() const {
  return log_.TermOr0(log_.committed()) == term_;
}

bool RaftImpl::MaybeCommit() {
  const bool had_current = CommittedInCurrentTerm();
  // §5.4.2 (Figure 8): MaybeCommit only commits an entry of the current term.
  if (!log_.MaybeCommit(tracker_.QuorumMatch(), term_)) return false;
  if (!had_current) ReleasePendingReads();
  return true;
}

}  // namespace berth::raft
