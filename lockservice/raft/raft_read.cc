// ReadIndex (thesis §6.4): the leader records its commit index, confirms it
// is still leader with a round of heartbeats carrying the request context,
// and answers once a quorum of voters acknowledged. Until the leader has
// committed an entry of its own term it does not know the true commit index,
// so requests wait (queued) until then.
#include <utility>

#include "lockservice/raft/raft_impl.h"

namespace berth::raft {

absl::Status RaftImpl::HandleReadIndex(const raftpb::Message& m) {
  if (m.context().empty()) {
    return absl::InvalidArgumentError("read index: empty request context");
  }
  if (tracker_.VoterCount() == 1 && tracker_.IsVoter(id_)) {
    // A single voter is the quorum, but still only once its no-op commits.
    if (!CommittedInCurrentTerm()) {
      pending_reads_.push_back(m);
      return absl::OkStatus();
    }
    AnswerRead(m.from(), log_.committed(), m.context());
    return absl::OkStatus();
  }
  if (!CommittedInCurrentTerm()) {
    pending_reads_.push_back(m);
    return absl::OkStatus();
  }
  if (unsafe_read_without_quorum_) {
    // The planted bug (Config, test only): no leadership check.
    AnswerRead(m.from(), log_.committed(), m.context());
    return absl::OkStatus();
  }
  ReadRequest req;
  req.index = log_.committed();
  req.ctx = m.context();
  req.from = m.from();
  req.acks.insert(id_);
  reads_.push_back(std::move(req));
  BcastHeartbeat();
  return absl::OkStatus();
}

std::string RaftImpl::LastPendingReadCtx() const {
  return reads_.empty() ? std::string() : reads_.back().ctx;
}

void RaftImpl::HandleReadAck(uint64_t from, const std::string& ctx) {
  auto it = reads_.begin();
  for (; it != reads_.end(); ++it) {
    if (it->ctx == ctx) break;
  }
  if (it == reads_.end()) return;
  it->acks.insert(from);
  int voters = 0, acked = 0;
  for (const auto& [id, pr] : tracker_.progress()) {
    if (pr.learner) continue;
    ++voters;
    if (it->acks.count(id)) ++acked;
  }
  if (acked <= voters / 2) return;
  // Leadership was confirmed after every earlier request arrived, so they
  // are all answered too, in order.
  ++it;
  std::deque<ReadRequest> done(reads_.begin(), it);
  reads_.erase(reads_.begin(), it);
  for (const ReadRequest& r : done) AnswerRead(r.from, r.index, r.ctx);
}

void RaftImpl::AnswerRead(uint64_t to, uint64_t index, const std::string& ctx) {
  if (to == kNone || to == id_) {
    read_states_.push_back(ReadState{index, ctx});
    return;
  }
  raftpb::Message resp;
  resp.set_to(to);
  resp.set_type(raftpb::MSG_READ_INDEX_RESP);
  resp.set_index(index);
  resp.set_context(ctx);
  Send(std::move(resp));
}

void RaftImpl::ReleasePendingReads() {
  std::vector<raftpb::Message> pending;
  pending.swap(pending_reads_);
  for (const raftpb::Message& m : pending) (void)HandleReadIndex(m);
}

}  // namespace berth::raft
