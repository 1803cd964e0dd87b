#include "lockservice/lockd/keepalive_stream.h"

#include <optional>
#include <utility>

#include "lockservice/lockd/lease_keeper.h"
#include "lockservice/lockd/node_authorizer.h"

namespace berth::lockd {
namespace {

// A round's barrier and a renewal through the log may take this long.
constexpr absl::Duration kRoundTimeout = absl::Seconds(5);

int64_t CeilSeconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

// Not the leader any more (or not yet): the error that sends the client to
// whoever leads now.
absl::Status LeadershipLost(Core* core) {
  absl::Status st = core->RequireLeader();
  if (!st.ok()) return st;
  return absl::UnavailableError(
      "leadership changed while renewing the lease; reconnect and retry");
}

}  // namespace

KeepAliveStream::KeepAliveStream(Core* core, KeepAliveStats* stats,
                                 size_t max_queued,
                                 std::optional<std::string> agent_node)
    : core_(core),
      stats_(stats),
      agent_node_(std::move(agent_node)),
      max_queued_(max_queued) {
  StartRead(&req_);
}

void KeepAliveStream::OnReadDone(bool ok) {
  {
    absl::MutexLock l(&mu_);
    reading_ = false;
    if (!ok) {
      reads_ended_ = true;
    } else if (!failed_ && !finished_) {
      waiting_.push_back(req_.id());
      stats_->requests.fetch_add(1, std::memory_order_relaxed);
    }
    PumpLocked();
  }
  MaybeStartRound();
}

void KeepAliveStream::MaybeStartRound() {
  std::vector<int64_t> batch;
  {
    absl::MutexLock l(&mu_);
    if (round_running_ || waiting_.empty() || failed_ || finished_) return;
    round_running_ = true;
    // One for the round's callback, one for this frame: the callback may
    // run (and the stream end) before ReadBarrierAsync returns.
    raft_ops_ += 2;
    batch.swap(waiting_);
  }
  stats_->rounds.fetch_add(1, std::memory_order_relaxed);
  node::NodeStatus s = core_->node()->GetStatus();
  if (s.role != raft::Role::kLeader) {
    OnBarrier(std::move(batch), s.term, LeadershipLost(core_));
    ReleaseOp();
    return;
  }
  // A leader that was deposed without knowing it cannot pass the barrier:
  // it needs a heartbeat round acknowledged by a quorum in its term. This
  // one barrier covers every request of the batch.
  uint64_t ticket = core_->ReadBarrierAsync(
      false, core_->clock()->Now() + kRoundTimeout,
      [this, batch = std::move(batch), term = s.term](absl::Status st) mutable {
        OnBarrier(std::move(batch), term, std::move(st));
      });
  bool cancel_now;
  {
    absl::MutexLock l(&mu_);
    tickets_.push_back(ticket);
    cancel_now = cancelled_;
  }
  // The client cancelled between the barrier's start and here.
  if (cancel_now) core_->Cancel(ticket);
  ReleaseOp();
}

void KeepAliveStream::OnBarrier(std::vector<int64_t> batch, uint64_t term,
                                absl::Status st) {
  std::vector<Answer> out(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) out[i].id = batch[i];
  // Answers after the first failure are dropped: the stream ends there.
  size_t end = batch.size();
  auto fail_at = [&](size_t i, absl::Status why) {
    out[i].error = std::move(why);
    out[i].ready = true;
    end = i + 1;
  };
  std::vector<LogRenewal> via_log;
  if (!st.ok()) {
    fail_at(0, std::move(st));
  } else {
    std::vector<absl::StatusOr<std::optional<lock::LeaseRecord>>> leases;
    leases.reserve(batch.size());
    core_->store()->Read([&](lock::StateMachine& sm) {
      for (int64_t id : batch) {
        absl::Status allowed = agent_node_.has_value()
                                   ? AuthorizeAgentLease(*agent_node_, id, sm)
                                   : absl::OkStatus();
        if (allowed.ok()) {
          leases.push_back(sm.Lease(id));
        } else {
          leases.push_back(std::move(allowed));
        }
      }
      return 0;
    });
    lockpb::ResponseHeader header;
    core_->FillHeader(&header);
    for (size_t i = 0; i < end; ++i) {
      out[i].header = header;
      if (!leases[i].ok()) {
        fail_at(i, leases[i].status());
        break;
      }
      if (!leases[i]->has_value()) {  // the session is lost
        out[i].ready = true;
        continue;
      }
      const int64_t ttl_ms = (*leases[i])->ttl_ms;
      // Renewed in the leader's memory, not in the log: the leader
      // checkpoints remaining TTLs periodically (lease_keeper.h).
      switch (core_->lease_keeper()->Renew(term, batch[i], ttl_ms)) {
        case LeaseKeeper::RenewOutcome::kRenewed:
          out[i].ready = true;
          out[i].ttl_ms = ttl_ms;
          break;
        case LeaseKeeper::RenewOutcome::kExpiring:
          via_log.push_back(LogRenewal{i, batch[i]});  // seq fixed below
          break;
        case LeaseKeeper::RenewOutcome::kNotLeader:
          fail_at(i, LeadershipLost(core_));
          break;
      }
    }
  }
  {
    absl::MutexLock l(&mu_);
    const uint64_t first_seq = answers_base_ + answers_.size();
    for (size_t i = 0; i < end; ++i) {
      if (!out[i].error.ok()) failed_ = true;
      answers_.push_back(std::move(out[i]));
    }
    for (LogRenewal& r : via_log) r.seq += first_seq;
    raft_ops_ += static_cast<int>(via_log.size());
    round_running_ = false;
    PumpLocked();
  }
  for (const LogRenewal& r : via_log) {
    // The leader is proposing this lease's expiry: order the renewal in
    // the log after it (a NOT_FOUND answer then means it expired).
    lockpb::Command cmd;
    cmd.mutable_lease_keepalive()->set_id(r.id);
    uint64_t ticket = core_->ProposeAsync(
        std::move(cmd), core_->clock()->Now() + kRoundTimeout,
        [this, seq = r.seq](absl::StatusOr<lockpb::CommandResult> res) {
          OnLogRenewal(seq, std::move(res));
        });
    absl::MutexLock l(&mu_);
    tickets_.push_back(ticket);
  }
  MaybeStartRound();
  ReleaseOp();
}

void KeepAliveStream::OnLogRenewal(uint64_t seq,
                                   absl::StatusOr<lockpb::CommandResult> r) {
  lockpb::ResponseHeader header;
  core_->FillHeader(&header);
  {
    absl::MutexLock l(&mu_);
    // Gone only if the stream already finished (answers are popped in
    // order, and this one was not ready).
    if (seq >= answers_base_ && seq - answers_base_ < answers_.size()) {
      Answer& a = answers_[seq - answers_base_];
      a.ready = true;
      a.header = std::move(header);
      if (absl::IsNotFound(r.status())) {
        a.ttl_ms = 0;
      } else if (!r.ok()) {
        a.error = r.status();
        failed_ = true;
      } else {
        a.ttl_ms = r->lease().ttl_ms();
      }
      PumpLocked();
    }
  }
  ReleaseOp();
}

void KeepAliveStream::PumpLocked() {
  if (finished_) return;
  if (!writing_ && !answers_.empty() && answers_.front().ready) {
    Answer a = std::move(answers_.front());
    answers_.pop_front();
    ++answers_base_;
    if (!a.error.ok()) {
      // Not the leader, or no quorum: end the stream so the client
      // reconnects to whoever leads now. Later requests stay unanswered.
      FinishLocked(a.error);
      return;
    }
    out_.Clear();
    out_.set_id(a.id);
    out_.set_ttl(CeilSeconds(a.ttl_ms));  // 0: the session is lost
    *out_.mutable_header() = std::move(a.header);
    // No buffer_hint: with the callback API a buffered write completes
    // only when a later write flushes, and the next write waits for this
    // one's OnWriteDone. The transport coalesces what queues meanwhile.
    writing_ = true;
    StartWrite(&out_);
  }
  if (writing_) return;
  const size_t queued = waiting_.size() + answers_.size();
  if (reads_ended_ || failed_) {
    if (answers_.empty() && waiting_.empty() && !round_running_ && !failed_) {
      FinishLocked(absl::OkStatus());  // the client half-closed
    }
    return;
  }
  if (!reading_ && queued < max_queued_) {
    reading_ = true;
    StartRead(&req_);
  }
}

void KeepAliveStream::FinishLocked(const absl::Status& st) {
  finished_ = true;
  Finish(ToGrpc(st));
}

void KeepAliveStream::OnWriteDone(bool ok) {
  {
    absl::MutexLock l(&mu_);
    writing_ = false;
    // The client went away; nobody reads the status.
    if (!ok && !finished_) FinishLocked(absl::OkStatus());
    PumpLocked();
  }
  MaybeStartRound();
}

void KeepAliveStream::OnCancel() {
  Core* const core = core_;  // OnDone may delete `this` once unlocked
  std::vector<uint64_t> tickets;
  {
    absl::MutexLock l(&mu_);
    // A write in progress fails now; OnWriteDone finishes.
    if (!finished_ && !writing_) {
      FinishLocked(absl::CancelledError("the client cancelled the stream"));
    }
    cancelled_ = true;
    tickets = tickets_;
  }
  // Completes them now (inline, with Cancelled) rather than at their
  // deadline, so the stream is freed promptly.
  for (uint64_t t : tickets) core->Cancel(t);
}

void KeepAliveStream::OnDone() {
  bool last;
  {
    absl::MutexLock l(&mu_);
    done_ = true;
    last = raft_ops_ == 0;
  }
  if (last) delete this;
}

void KeepAliveStream::ReleaseOp() {
  bool last;
  {
    absl::MutexLock l(&mu_);
    --raft_ops_;
    if (raft_ops_ == 0) tickets_.clear();  // all completed
    last = done_ && raft_ops_ == 0;
  }
  if (last) delete this;
}

}  // namespace berth::lockd
