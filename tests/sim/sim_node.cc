#include "tests/sim/sim_node.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::sim {

absl::StatusOr<std::unique_ptr<SimNode>> SimNode::Create(
    uint64_t id, const raft::MemoryStorage& initial, const NodeOptions& options,
    uint64_t seed, NodeObserver* observer) {
  if (id == 0) return absl::InvalidArgumentError("sim node: id 0 is reserved");
  std::unique_ptr<SimNode> n(new SimNode(id, initial, options, observer));
  if (absl::Status s = n->StartRaft(seed); !s.ok()) return s;
  return n;
}

absl::Status SimNode::StartRaft(uint64_t seed) {
  raft::Config c;
  c.id = id_;
  c.storage = &disk_;
  c.election_tick = options_.election_tick;
  c.heartbeat_tick = options_.heartbeat_tick;
  c.applied = kv_.applied();
  c.max_size_per_msg = options_.max_size_per_msg;
  c.max_inflight_msgs = options_.max_inflight_msgs;
  c.snapshot_chunk_bytes = options_.snapshot_chunk_bytes;
  c.seed = seed;
  c.test_only_unsafe_read_index_without_quorum =
      options_.unsafe_read_index_without_quorum;
  absl::StatusOr<std::unique_ptr<raft::Raft>> r = raft::Raft::Create(c);
  if (!r.ok()) {
    return absl::InternalError(
        absl::StrCat("node ", id_, ": Raft::Create: ", r.status().ToString()));
  }
  raft_ = std::move(*r);
  absl::StatusOr<raft::InitialState> init = disk_.GetInitialState();
  if (!init.ok()) return init.status();
  written_hs_ = init->hard_state;
  return absl::OkStatus();
}

absl::Status SimNode::Tick() {
  raft_->Tick();
  return Drain();
}

absl::Status SimNode::Step(const raftpb::Message& m) {
  // Errors from Step are the core refusing a message (stale, unknown peer);
  // the network may deliver anything, so they are not failures.
  absl::Status s = raft_->Step(m);
  if (!s.ok()) {
    observer_->Trace(absl::StrCat("n", id_, " step ",
                                  raftpb::MessageType_Name(m.type()), " from ",
                                  m.from(), ": ", s.ToString()));
  }
  return Drain();
}

absl::Status SimNode::Drain() {
  while (up() && raft_->HasReady()) {
    absl::StatusOr<bool> r = HandleReady();
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> SimNode::HandleReady() {
  raft::Ready rd = raft_->GetReady();
  const bool term_or_vote_changes =
      rd.hard_state && (rd.hard_state->term() != written_hs_.term() ||
                        rd.hard_state->vote() != written_hs_.vote());
  const bool leader = raft_->GetStatus().soft_state.role == raft::Role::kLeader;
  if (!rd.snapshot && !term_or_vote_changes &&
      (leader ? options_.async_leader_writes
              : options_.async_follower_writes)) {
    return HandleReadyAsync(rd, leader);
  }

  // 1. Persist: write, then fsync (which also makes any outstanding
  // asynchronous write durable: the disk writes in order).
  absl::Status s =
      disk_.Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                 rd.snapshot ? &*rd.snapshot : nullptr);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("node ", id_, ": saving a Ready batch: ", s.ToString()));
  }
  if (rd.hard_state) written_hs_ = *rd.hard_state;
  if (observer_->ShouldCrash(id_, CrashPoint::kAfterWrite)) {
    observer_->Trace(
        absl::StrCat("n", id_, " CRASH after write, before fsync"));
    Crash();
    return false;
  }
  if (s = disk_.Sync(); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("node ", id_, ": fsync: ", s.ToString()));
  }
  ReportAsyncWrites();
  if (rd.snapshot) {
    s = kv_.Restore(rd.snapshot->data(), rd.snapshot->metadata().index());
    if (!s.ok()) {
      return absl::InternalError(
          absl::StrCat("node ", id_, ": ", s.ToString()));
    }
  }
  observer_->Persisted(*this, rd);
  if (observer_->ShouldCrash(id_, CrashPoint::kAfterSync)) {
    observer_->Trace(absl::StrCat("n", id_, " CRASH after fsync, before send"));
    Crash();
    return false;
  }

  // 2. Send.
  for (const raftpb::Message& m : rd.messages) observer_->Send(m);

  // 3. Apply, 4. Advance.
  return ApplyAndAdvance(rd);
}

absl::StatusOr<bool> SimNode::HandleReadyAsync(raft::Ready& rd, bool leader) {
  // Bookkeeping only: nothing this Ready adds is durable yet.
  observer_->Persisted(*this, rd);
  // 1. Send what may leave now: a leader everything (the followers write
  // while it does), a follower all but its acks, which wait for the fsync
  // of this write and of every write before it.
  const bool writes = rd.hard_state.has_value() || !rd.entries.empty();
  for (const raftpb::Message& m : rd.messages) {
    if (!leader && raft::AckAfterPersisted(m.type()) &&
        (writes || has_async_writes())) {
      held_acks_.push_back(m);
    } else {
      observer_->Send(m);
    }
  }
  if (observer_->ShouldCrash(id_, CrashPoint::kAfterAsyncSend)) {
    observer_->Trace(absl::StrCat(
        "n", id_, " CRASH after sending, before writing its own entries"));
    Crash();
    return false;
  }
  // 2. Write; the fsync completes later (CompleteWrites).
  absl::Status s = disk_.Save(rd.hard_state ? &*rd.hard_state : nullptr,
                              rd.entries, nullptr);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("node ", id_, ": writing a batch: ", s.ToString()));
  }
  if (rd.hard_state) written_hs_ = *rd.hard_state;
  if (!rd.entries.empty()) {
    async_writes_.emplace_back(rd.entries.back().index(),
                               rd.entries.back().term());
  }
  // The core learns about these entries from ReportAsyncWrites, not Advance.
  rd.entries.clear();
  // 3. Apply (committed entries are durable here already), 4. Advance.
  return ApplyAndAdvance(rd);
}

absl::StatusOr<bool> SimNode::ApplyAndAdvance(raft::Ready& rd) {
  for (const raftpb::Entry& e : rd.committed_entries) {
    if (e.index() <= kv_.applied()) continue;  // covered by a snapshot
    if (e.index() > disk_.durable().LastIndex()) {
      return absl::InternalError(
          absl::StrCat("node ", id_, ": entry ", e.index(),
                       " handed out to apply before it was durable here"));
    }
    absl::StatusOr<ApplyResult> r = kv_.Apply(e);
    if (!r.ok()) {
      return absl::InternalError(
          absl::StrCat("node ", id_, ": ", r.status().ToString()));
    }
    observer_->Applied(id_, e, *r);
  }
  for (const raft::ReadState& rs : rd.read_states) {
    auto it = reads_.find(rs.request_ctx);
    if (it != reads_.end()) it->second.index = rs.index;
  }
  ServeReads();
  if (observer_->ShouldCrash(id_, CrashPoint::kAfterApply)) {
    observer_->Trace(
        absl::StrCat("n", id_, " CRASH after apply, before state sync"));
    Crash();
    return false;
  }
  durable_kv_ = kv_;
  raft_->Advance(rd);
  return true;
}

void SimNode::ReportAsyncWrites() {
  std::vector<std::pair<uint64_t, uint64_t>> done = std::move(async_writes_);
  async_writes_.clear();
  for (const auto& [index, term] : done) raft_->OnPersisted(index, term);
  std::vector<raftpb::Message> acks = std::move(held_acks_);
  held_acks_.clear();
  for (const raftpb::Message& m : acks) observer_->Send(m);
}

absl::Status SimNode::CompleteWrites() {
  if (!up() || !has_async_writes()) return absl::OkStatus();
  if (absl::Status s = disk_.Sync(); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("node ", id_, ": fsync: ", s.ToString()));
  }
  ReportAsyncWrites();
  return Drain();
}

void SimNode::ServeReads() {
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.index != 0 && kv_.applied() >= it->second.index) {
      observer_->ReadServed(id_, it->first, kv_.Get(it->second.key));
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void SimNode::Crash() {
  raft_.reset();
  disk_.Crash();
  async_writes_.clear();
  held_acks_.clear();
  kv_ = durable_kv_;
  reads_.clear();
}

absl::Status SimNode::Restart(uint64_t seed) {
  if (up()) return absl::FailedPreconditionError("restart: node is up");
  absl::StatusOr<raftpb::Snapshot> snap = disk_.GetSnapshot();
  if (!snap.ok()) return snap.status();
  if (snap->metadata().index() > kv_.applied()) {
    absl::Status s = kv_.Restore(snap->data(), snap->metadata().index());
    if (!s.ok()) return s;
    durable_kv_ = kv_;
  }
  return StartRaft(seed);
}

absl::Status SimNode::Propose(std::string data) {
  return raft_->Propose(std::move(data));
}

absl::Status SimNode::Read(const std::string& ctx, const std::string& key) {
  absl::Status s = raft_->ReadIndex(ctx);
  if (s.ok()) reads_[ctx] = PendingRead{key, 0};
  return s;
}

absl::Status SimNode::Compact(uint64_t keep) {
  if (!up() || disk_.has_unsynced()) return absl::OkStatus();
  const raft::Status st = raft_->GetStatus();
  const uint64_t index = kv_.applied();
  // The membership in Status is as of the core's applied index; a snapshot
  // is only consistent if that matches the state machine.
  if (st.applied != index) return absl::OkStatus();
  absl::StatusOr<raftpb::Snapshot> cur = disk_.GetSnapshot();
  if (!cur.ok()) return cur.status();
  if (index <= cur->metadata().index()) return absl::OkStatus();
  const uint64_t compact_to = index > keep ? index - keep : 0;
  absl::Status s =
      disk_.CreateSnapshot(index, st.conf_state, kv_.Serialize(),
                           std::max(compact_to, cur->metadata().index()));
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("node ", id_, ": compaction at ",
                                            index, ": ", s.ToString()));
  }
  observer_->Trace(absl::StrCat("n", id_, " snapshot at ", index,
                                ", log compacted to ", compact_to));
  return absl::OkStatus();
}

}  // namespace berth::sim
