// InstallSnapshot (§7), sent in chunks of snapshot_chunk_bytes.
//
// Leader: a follower whose next entry was compacted enters snapshot state.
// Chunks go out stop-and-wait: each MsgSnap carries the snapshot metadata,
// the byte offset and total, and the follower acks each chunk with the offset
// it expects next. A chunk with no ack for two heartbeat intervals is resent.
// The final ack (snapshot_done) moves the follower back to probe.
//
// Follower: chunks are accumulated in order for one (leader, term, snapshot)
// at a time. A chunk at offset 0 starts over; any other mismatch is answered
// with a reject naming the offset we need, which realigns the leader.
#include <algorithm>
#include <utility>

#include "lockservice/raft/raft_impl.h"

namespace berth::raft {

namespace {
constexpr int kSnapshotRetryBeats = 2;
}  // namespace

bool RaftImpl::StartSnapshot(uint64_t to, Progress& pr) {
  absl::StatusOr<raftpb::Snapshot> snap = storage_->GetSnapshot();
  if (!snap.ok()) return false;  // e.g. Unavailable: being produced; retry
  if (snap->metadata().index() == 0) return false;  // nothing to send yet
  snap_cache_ = *std::move(snap);
  pr.BecomeSnapshot(snap_cache_->metadata().index());
  SendSnapshotChunk(to, pr);
  return true;
}

void RaftImpl::SendSnapshotChunk(uint64_t to, Progress& pr) {
  if (!snap_cache_ || snap_cache_->metadata().index() != pr.snap_index) {
    absl::StatusOr<raftpb::Snapshot> snap = storage_->GetSnapshot();
    if (!snap.ok()) return;  // retried at a later heartbeat
    snap_cache_ = *std::move(snap);
    if (snap_cache_->metadata().index() != pr.snap_index) {
      // Storage has moved on to a newer snapshot: start that one instead.
      pr.BecomeSnapshot(snap_cache_->metadata().index());
    }
  }
  const std::string& data = snap_cache_->data();
  const uint64_t total = data.size();
  const uint64_t offset = std::min<uint64_t>(pr.snap_acked, total);
  const uint64_t len =
      std::min<uint64_t>(snapshot_chunk_bytes_, total - offset);
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_SNAP);
  *m.mutable_snapshot()->mutable_metadata() = snap_cache_->metadata();
  m.mutable_snapshot()->set_data(data.substr(offset, len));
  m.set_snapshot_offset(offset);
  m.set_snapshot_total(total);
  m.set_snapshot_done(offset + len == total);
  pr.snap_idle_beats = 0;
  Send(std::move(m));
}

void RaftImpl::RetrySnapshotChunks() {
  for (auto& [to, pr] : tracker_.progress()) {
    if (to == id_ || pr.state != ProgressState::kSnapshot) continue;
    if (++pr.snap_idle_beats >= kSnapshotRetryBeats) SendSnapshotChunk(to, pr);
  }
}

void RaftImpl::HandleSnapshotResponse(const raftpb::Message& m) {
  Progress* pr = tracker_.Get(m.from());
  if (pr->state != ProgressState::kSnapshot ||
      m.snapshot().metadata().index() != pr->snap_index) {
    return;  // an ack for a transfer we already finished or abandoned
  }
  if (m.snapshot_done() && !m.reject()) {
    // The follower installed the snapshot (or already had its entries).
    pr->MaybeUpdate(m.index());
    pr->BecomeProbe();
    MaybeSendAppend(m.from(), /*send_if_empty=*/true);
    return;
  }
  if (!m.reject() && m.snapshot_offset() <= pr->snap_acked) return;  // dup
  pr->snap_acked = m.snapshot_offset();
  SendSnapshotChunk(m.from(), *pr);
}

void RaftImpl::HandleSnapshot(const raftpb::Message& m) {
  const raftpb::SnapshotMetadata& meta = m.snapshot().metadata();
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_SNAP_RESP);
  resp.mutable_snapshot()->mutable_metadata()->set_index(meta.index());
  resp.mutable_snapshot()->mutable_metadata()->set_term(meta.term());

  const bool same = snap_buf_ && snap_buf_->from == m.from() &&
                    snap_buf_->term == m.term() &&
                    snap_buf_->metadata.index() == meta.index() &&
                    snap_buf_->metadata.term() == meta.term() &&
                    snap_buf_->total == m.snapshot_total();
  if (m.snapshot_offset() == 0 && !(same && !snap_buf_->data.empty())) {
    snap_buf_ =
        SnapshotBuffer{m.from(), m.term(), meta, m.snapshot_total(), ""};
  } else if (!same || m.snapshot_offset() != snap_buf_->data.size()) {
    // Out of order, duplicate, or from another transfer: tell the leader
    // where we are. A duplicate is acked without reject (no realignment).
    const bool dup = same && m.snapshot_offset() < snap_buf_->data.size();
    resp.set_reject(!dup);
    resp.set_snapshot_offset(same ? snap_buf_->data.size() : 0);
    Send(std::move(resp));
    return;
  }
  snap_buf_->data.append(m.snapshot().data());
  resp.set_snapshot_offset(snap_buf_->data.size());
  if (!m.snapshot_done()) {
    Send(std::move(resp));
    return;
  }
  if (snap_buf_->data.size() != snap_buf_->total) {
    snap_buf_.reset();
    resp.set_reject(true);
    resp.set_snapshot_offset(0);
    Send(std::move(resp));
    return;
  }
  raftpb::Snapshot snap;
  *snap.mutable_metadata() = snap_buf_->metadata;
  snap.set_data(std::move(snap_buf_->data));
  snap_buf_.reset();
  const bool restored = RestoreSnapshot(snap);
  resp.set_snapshot_done(true);
  resp.set_index(restored ? meta.index() : log_.committed());
  Send(std::move(resp));
}

bool RaftImpl::RestoreSnapshot(const raftpb::Snapshot& snap) {
  const raftpb::SnapshotMetadata& meta = snap.metadata();
  if (meta.index() <= log_.committed()) return false;
  if (log_.MatchTerm(meta.index(), meta.term())) {
    // We already hold the snapshot's last entry, so (log matching) everything
    // before it too: just fast-forward the commit index.
    log_.CommitTo(meta.index());
    return false;
  }
  log_.Restore(snap);
  tracker_.SetConf(meta.conf_state(), log_.LastIndex() + 1);
  membership_known_ = !meta.conf_state().voters().empty();
  return true;
}

}  // namespace berth::raft
