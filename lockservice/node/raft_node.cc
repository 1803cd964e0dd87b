#include "lockservice/node/raft_node.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/monotonic_wait.h"
#include "lockservice/node/concurrent_log_store.h"
#include "lockservice/node/framing.h"
#include "lockservice/node/log_writer.h"
#include "lockservice/node/snapshot_storage.h"
#include "lockservice/node/stall_meter.h"

namespace berth::node {
namespace {

// A proposal between ProposeAsync and its completion. The driver reaches
// it through `proposals_` only while holding mu_; whoever removes it from
// there (apply, deadline, Cancel, leader change, Stop) runs `done`, so the
// callback fires exactly once.
struct PendingProposal {
  std::string framed;
  ProposeDone done;
  absl::Time deadline;
  bool submitted = false;     // handed to Raft...
  uint64_t submitted_to = 0;  // ...while this replica knew this leader
};

struct PendingRead {
  ReadDone done;
  absl::Time deadline;
};

// Callbacks collected under mu_ and run after it is released: a callback
// may call back into the node (ProposeAsync takes mu_).
using Completions = std::vector<absl::AnyInvocable<void() &&>>;

void RunCompletions(Completions& out) {
  for (auto& f : out) std::move(f)();
  out.clear();
}

class RaftNodeImpl : public RaftNode {
 public:
  RaftNodeImpl(const NodeOptions& opts,
               std::unique_ptr<ConcurrentLogStore> store, StateMachine* sm,
               Transport* transport, std::unique_ptr<SnapshotStorage> snapshots,
               std::unique_ptr<raft::Raft> raft)
      : opts_(opts),
        clock_(opts.clock ? opts.clock : Clock::Real()),
        store_(std::move(store)),
        sm_(sm),
        transport_(transport),
        snapshots_(std::move(snapshots)),
        raft_(std::move(raft)),
        stalls_(clock_, opts.id, opts.stall_threshold) {
    writer_ = std::make_unique<LogWriter>(
        store_.get(),
        [this](std::vector<raftpb::Message> msgs) {
          transport_->Send(std::move(msgs));
        },
        [this](const LogWriter::Written& w) {
          absl::MutexLock l(&mu_);
          written_.push_back(w);
          work_cv_.Signal();
        },
        opts.stall_threshold);
    applied_ = sm_->AppliedIndex();
    last_compact_index_ = store_->FirstIndex() - 1;
    saved_hard_state_ = raft_->GetStatus().hard_state;
    RefreshStatusLocked();
  }

  ~RaftNodeImpl() override { Stop(); }

  void Start() override {
    absl::MutexLock l(&mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() override {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
    }
    work_cv_.SignalAll();
    // Never started, or stopped already: still fail whatever was queued.
    if (thread_.joinable()) thread_.join();
    // The writer finishes what the driver handed it (and sends its acks)
    // now, while the transport and its peers surely still exist. The
    // driver is gone, so nobody will apply what a yield waited for.
    writer_->EndYield();
    writer_->Flush();
    Completions out;
    {
      absl::MutexLock l(&mu_);
      FailAllLocked(absl::UnavailableError("replica is shutting down"), &out);
    }
    RunCompletions(out);
  }

  uint64_t ProposeAsync(std::string payload, absl::Time deadline,
                        ProposeDone done) override {
    Completions out;
    uint64_t ticket;
    {
      absl::MutexLock l(&mu_);
      ticket = NextTicketLocked();
      if (stopping_) {
        out.push_back([done = std::move(done)]() mutable {
          std::move(done)(absl::UnavailableError("replica is shutting down"));
        });
      } else {
        PendingProposal& p = proposals_[ticket];
        p.framed = FrameProposal(ticket, payload);
        p.done = std::move(done);
        p.deadline = deadline;
        if (deadline != absl::InfiniteFuture()) {
          deadlines_.emplace(deadline, ticket);
        }
        new_proposals_.push_back(ticket);
        work_cv_.Signal();
      }
    }
    RunCompletions(out);
    return ticket;
  }

  uint64_t ReadBarrierAsync(absl::Time deadline, ReadDone done) override {
    Completions out;
    uint64_t ticket;
    {
      absl::MutexLock l(&mu_);
      ticket = NextTicketLocked();
      if (stopping_) {
        out.push_back([done = std::move(done)]() mutable {
          std::move(done)(absl::UnavailableError("replica is shutting down"));
        });
      } else {
        reads_[ticket] = PendingRead{std::move(done), deadline};
        if (deadline != absl::InfiniteFuture()) {
          deadlines_.emplace(deadline, ticket);
        }
        unassigned_reads_.push_back(ticket);
        work_cv_.Signal();
      }
    }
    RunCompletions(out);
    return ticket;
  }

  void Cancel(uint64_t ticket, absl::Status why) override {
    Completions out;
    {
      absl::MutexLock l(&mu_);
      if (why.ok()) why = absl::CancelledError("cancelled");
      // Stale ticket ids left in the driver's queues are skipped there.
      CompleteProposalLocked(ticket, why, &out);
      CompleteReadLocked(ticket, why, &out);
    }
    RunCompletions(out);
  }

  absl::StatusOr<std::string> Propose(std::string payload,
                                      absl::Time deadline) override {
    Notice n;
    absl::StatusOr<std::string> result;
    uint64_t ticket = ProposeAsync(std::move(payload), deadline,
                                   [&](absl::StatusOr<std::string> r) {
                                     result = std::move(r);
                                     n.Notify();
                                   });
    // The driver enforces the deadline, but it may be stuck in a long step
    // (a snapshot); a blocked caller gives up on time regardless. Cancel
    // either completes the proposal here or finds it already completing.
    if (!n.WaitUntil(MonotonicDeadline::FromWall(deadline))) {
      Cancel(ticket, ProposalDeadlineError());
      n.Wait();
    }
    return result;
  }

  absl::Status ReadBarrier(absl::Time deadline) override {
    Notice n;
    absl::Status result;
    uint64_t ticket = ReadBarrierAsync(deadline, [&](absl::Status st) {
      result = std::move(st);
      n.Notify();
    });
    if (!n.WaitUntil(MonotonicDeadline::FromWall(deadline))) {
      Cancel(ticket, ReadDeadlineError());
      n.Wait();
    }
    return result;
  }

  absl::Status ProposeConfChange(const raftpb::ConfChange& cc,
                                 absl::Time deadline) override {
    absl::Status st =
        RunOnDriver([&] { return raft_->ProposeConfChange(cc); }, deadline);
    if (!st.ok()) return st;
    const MonotonicDeadline until = MonotonicDeadline::FromWall(deadline);
    absl::MutexLock l(&mu_);
    auto applied = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ConfChangeVisible(cc, status_.conf_state);
    };
    while (!applied()) {
      if (WaitMonotonic(&done_cv_, &mu_, until) && !applied()) {
        return absl::DeadlineExceededError(
            "membership change proposed but not applied before the deadline");
      }
    }
    return absl::OkStatus();
  }

  absl::Status TransferLeadership(uint64_t transferee,
                                  absl::Time deadline) override {
    absl::Status st = RunOnDriver(
        [&] { return raft_->TransferLeadership(transferee); }, deadline);
    if (!st.ok()) return st;
    const MonotonicDeadline until = MonotonicDeadline::FromWall(deadline);
    absl::MutexLock l(&mu_);
    while (status_.leader != transferee) {
      if (WaitMonotonic(&done_cv_, &mu_, until) &&
          status_.leader != transferee) {
        return absl::DeadlineExceededError(absl::StrCat(
            "leadership did not move to ", transferee, " before the deadline"));
      }
    }
    return absl::OkStatus();
  }

  void Receive(raftpb::Message m) override {
    absl::MutexLock l(&mu_);
    if (inbox_.size() > kMaxInbox) return;  // Raft tolerates loss.
    inbox_.push_back(std::move(m));
    work_cv_.Signal();
  }

  void ReportUnreachable(uint64_t peer) override {
    absl::MutexLock l(&mu_);
    unreachable_.push_back(peer);
    work_cv_.Signal();
  }

  NodeStatus GetStatus() override {
    absl::MutexLock l(&mu_);
    return status_;
  }

  void OnLeaderChange(std::function<void(uint64_t, uint64_t)> fn) override {
    absl::MutexLock l(&mu_);
    on_leader_change_ = std::move(fn);
  }

 private:
  static constexpr size_t kMaxInbox = 100000;

  static bool ConfChangeVisible(const raftpb::ConfChange& cc,
                                const raftpb::ConfState& cs) {
    auto has = [](const auto& list, uint64_t id) {
      return std::find(list.begin(), list.end(), id) != list.end();
    };
    switch (cc.type()) {
      case raftpb::CONF_ADD_LEARNER:
        return has(cs.learners(), cc.node_id());
      case raftpb::CONF_ADD_VOTER:
        return has(cs.voters(), cc.node_id());
      case raftpb::CONF_REMOVE_NODE:
        return !has(cs.voters(), cc.node_id()) &&
               !has(cs.learners(), cc.node_id());
      default:
        return false;
    }
  }

  // Runs fn on the driver thread (which owns raft_) and returns its status.
  absl::Status RunOnDriver(std::function<absl::Status()> fn,
                           absl::Time deadline) {
    struct Call {
      std::function<absl::Status()> fn;
      bool done = false;
      absl::Status status;
    } call{std::move(fn)};
    const MonotonicDeadline until = MonotonicDeadline::FromWall(deadline);
    absl::MutexLock l(&mu_);
    if (stopping_) return absl::UnavailableError("replica is shutting down");
    uint64_t id = ++next_call_;
    calls_[id] = [&call] {
      call.status = call.fn();
      call.done = true;
    };
    work_cv_.Signal();
    while (!call.done) {
      if (WaitMonotonic(&done_cv_, &mu_, until) && !call.done) {
        // The driver runs calls under mu_, so erasing ours here guarantees
        // it never touches `call` after we return.
        calls_.erase(id);
        return absl::DeadlineExceededError("replica driver is busy");
      }
    }
    return call.status;
  }

  static absl::Status ProposalDeadlineError() {
    return absl::DeadlineExceededError(
        "proposal not applied before the deadline; it may still commit");
  }
  static absl::Status ReadDeadlineError() {
    return absl::DeadlineExceededError(
        "linearizable read: no read index confirmed before the deadline");
  }

  // Tickets name proposals and reads alike; a proposal's ticket is also its
  // request id in the log, so the replica id in the top bits keeps it
  // distinct from other replicas' proposals.
  uint64_t NextTicketLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (opts_.id << 48) | (++next_ticket_ & ((1ull << 48) - 1));
  }

  // Removes proposal `ticket`, if still pending, and queues its callback.
  void CompleteProposalLocked(uint64_t ticket, absl::StatusOr<std::string> r,
                              Completions* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = proposals_.find(ticket);
    if (it == proposals_.end()) return;
    deadlines_.erase({it->second.deadline, ticket});
    out->push_back(
        [done = std::move(it->second.done), r = std::move(r)]() mutable {
          std::move(done)(std::move(r));
        });
    proposals_.erase(it);
  }

  void CompleteReadLocked(uint64_t ticket, absl::Status st, Completions* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = reads_.find(ticket);
    if (it == reads_.end()) return;
    deadlines_.erase({it->second.deadline, ticket});
    out->push_back([done = std::move(it->second.done),
                    st = std::move(st)]() mutable { std::move(done)(st); });
    reads_.erase(it);
  }

  // Fails everything whose deadline has passed.
  void ExpireLocked(absl::Time now, Completions* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const uint64_t ticket = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      if (proposals_.contains(ticket)) {
        CompleteProposalLocked(ticket, ProposalDeadlineError(), out);
      } else {
        CompleteReadLocked(ticket, ReadDeadlineError(), out);
      }
    }
  }

  void FailAllLocked(const absl::Status& st, Completions* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!proposals_.empty()) {
      CompleteProposalLocked(proposals_.begin()->first, st, out);
    }
    while (!reads_.empty()) CompleteReadLocked(reads_.begin()->first, st, out);
    unassigned_reads_.clear();
    reads_in_flight_.clear();
    indexed_reads_.clear();
    new_proposals_.clear();
    done_cv_.SignalAll();
  }

  // The leader changed. Raft drops a leader's pending reads and unsent
  // proposals when it steps down (Reset), so work whose leader is gone may
  // never come back: fail it now with a retriable error rather than at its
  // deadline. That is everything handed to Raft when this replica lost
  // the lead, and, when another replica took over, whatever this one had
  // forwarded to the old leader. A pre-vote round (lead unknown for a
  // moment) fails nothing: the leader may still answer. Reads that already
  // have an index complete normally once it is applied.
  void FailOnLeaderChangeLocked(const raft::SoftState& was,
                                const raft::SoftState& now, Completions* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const bool lost_lead =
        was.role == raft::Role::kLeader && now.role != raft::Role::kLeader;
    auto gone = [&](uint64_t asked) {
      return lost_lead || (now.lead != 0 && now.lead != asked);
    };
    std::vector<uint64_t> failed;
    for (auto& [ticket, p] : proposals_) {
      if (p.submitted && gone(p.submitted_to)) failed.push_back(ticket);
    }
    const absl::Status st = absl::UnavailableError(absl::StrCat(
        "leader changed (now ", now.lead,
        ") while the request was pending; it may still commit, retry"));
    for (uint64_t t : failed) CompleteProposalLocked(t, st, out);
    if (!gone(was.lead)) return;
    for (auto& [ctx, list] : reads_in_flight_) {
      for (uint64_t t : list) {
        CompleteReadLocked(
            t,
            absl::UnavailableError(
                "linearizable read: leader changed before the read index "
                "was confirmed; retry"),
            out);
      }
    }
    reads_in_flight_.clear();
  }

  void RefreshStatusLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    raft::Status s = raft_->GetStatus();
    status_.id = s.id;
    status_.leader = s.soft_state.lead;
    status_.term = s.hard_state.term();
    status_.role = s.soft_state.role;
    status_.commit = s.hard_state.commit();
    status_.applied = applied_;
    status_.last_index = s.last_index;
    status_.conf_state = s.conf_state;
    status_.progress = s.progress;
    status_.stalls = stalls_.count();
    SnapshotStorage::Stats ss = snapshots_->stats();
    status_.snapshots_built = ss.built;
    status_.snapshots_built_on_driver = ss.built_on_driver;
  }

  void Run() {
    // Named so that top -H, perf and /proc/PID/task/*/schedstat show it.
    pthread_setname_np(pthread_self(), "raft-driver");
    absl::Time next_tick = clock_->Monotonic() + opts_.tick_interval;
    while (true) {
      std::vector<raftpb::Message> inbox;
      std::vector<LogWriter::Written> written;
      std::vector<uint64_t> props;
      bool issue_read = false;
      std::string read_ctx;
      Completions out;
      {
        absl::MutexLock l(&mu_);
        // Sleep until there is work, the next tick, or the earliest
        // request deadline.
        auto wait_for = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          absl::Duration d =
              std::min(next_tick, apply_due_) - clock_->Monotonic();
          if (!deadlines_.empty()) {
            d = std::min(d, deadlines_.begin()->first - clock_->Now());
          }
          return d;
        };
        while (!stopping_ && inbox_.empty() && calls_.empty() &&
               unreachable_.empty() && new_proposals_.empty() &&
               written_.empty() && unassigned_reads_.empty() &&
               wait_for() > absl::ZeroDuration()) {
          WaitMonotonic(&work_cv_, &mu_, wait_for());
        }
        if (stopping_) return;
        ExpireLocked(clock_->Now(), &out);
        inbox.swap(inbox_);
        written.swap(written_);
        for (uint64_t peer : unreachable_) raft_->ReportUnreachable(peer);
        unreachable_.clear();
        props.swap(new_proposals_);
        // Run queued calls under mu_: they only touch raft_ (driver-owned)
        // and their Call record, which the waiter reads under mu_.
        if (!calls_.empty()) {
          StallMeter::Op op(&stalls_, "queued calls", calls_.size());
          for (auto& [id, c] : calls_) c();
          calls_.clear();
        }
        if (!unassigned_reads_.empty()) {
          // One ReadIndex round serves every reader that queued meanwhile.
          read_ctx = absl::StrCat(opts_.id, "/", ++next_read_);
          std::vector<uint64_t>& list = reads_in_flight_[read_ctx];
          for (uint64_t t : unassigned_reads_) {
            if (reads_.contains(t)) list.push_back(t);
          }
          unassigned_reads_.clear();
          issue_read = !list.empty();
          if (!issue_read) reads_in_flight_.erase(read_ctx);
        }
        done_cv_.SignalAll();
      }
      RunCompletions(out);
      // Writes that became durable: on a leader its own acks, on a
      // follower what it may now apply.
      for (const LogWriter::Written& w : written) {
        if (!w.status.ok()) {
          StopOnStorageFailure(w.status);
          return;
        }
        if (w.index != 0) raft_->OnPersisted(w.index, w.term);
      }
      // The writer has paused for an apply that found it writing.
      if (!written.empty() && apply_due_ == absl::InfiniteFuture()) {
        ApplyPending(/*wait=*/false);
      }
      if (!inbox.empty()) {
        StallMeter::Op op(&stalls_, "step messages", inbox.size());
        for (auto& m : inbox) {
          // Errors here are stale or foreign messages; Raft drops them.
          raft_->Step(m).IgnoreError();
        }
      }
      // After a stall (a snapshot, a slow fsync) tick at most twice, not
      // once per missed interval: a burst of ticks runs check-quorum
      // several times before any heartbeat reply could be stepped, and the
      // leader would depose itself.
      const absl::Time now = clock_->Monotonic();
      if (now >= next_tick) {
        StallMeter::Op op(&stalls_, "tick");
        for (int i = 0; i < 2 && now >= next_tick; ++i) {
          raft_->Tick();
          next_tick += opts_.tick_interval;
        }
      }
      if (now >= next_tick) next_tick = now + opts_.tick_interval;
      if (!props.empty()) {
        StallMeter::Op op(&stalls_, "submit proposals", props.size());
        SubmitProposals(props);
      }
      if (issue_read) {
        StallMeter::Op op(&stalls_, "read index");
        absl::Status st = raft_->ReadIndex(read_ctx);
        if (!st.ok()) FailReads(read_ctx, st);
      }
      DrainReady();
      if (apply_due_ != absl::InfiniteFuture() &&
          (clock_->Monotonic() >= apply_due_ || ReadsWaiting())) {
        apply_due_ = absl::InfiniteFuture();
        ApplyPending(/*wait=*/false);
      }
      // Where the state machine's committed state, applied_ and the core's
      // membership agree, a snapshot view may be pinned.
      if (MembershipSettled()) MaybeBuildSnapshot();
    }
  }

  void SubmitProposals(const std::vector<uint64_t>& props) {
    Completions out;
    {
      absl::MutexLock l(&mu_);
      // Everything that queued during the last fsync goes to Raft as one
      // MsgProp: one append, one MsgApp per follower, one fsync.
      raftpb::Message m;
      m.set_type(raftpb::MSG_PROP);
      m.set_from(opts_.id);
      std::vector<uint64_t> batch;
      const uint64_t lead = raft_->GetStatus().soft_state.lead;
      for (uint64_t t : props) {
        // It may have been cancelled or timed out meanwhile.
        auto it = proposals_.find(t);
        if (it == proposals_.end()) continue;
        it->second.submitted = true;
        it->second.submitted_to = lead;
        m.add_entries()->set_data(std::move(it->second.framed));
        batch.push_back(t);
      }
      if (batch.empty()) return;
      absl::Status st = raft_->Step(m);
      if (!st.ok()) {
        for (uint64_t t : batch) {
          CompleteProposalLocked(t,
                                 absl::UnavailableError(absl::StrCat(
                                     "cannot propose: ", st.message())),
                                 &out);
        }
      }
    }
    RunCompletions(out);
  }

  void FailReads(const std::string& ctx, const absl::Status& st) {
    Completions out;
    {
      absl::MutexLock l(&mu_);
      auto it = reads_in_flight_.find(ctx);
      if (it == reads_in_flight_.end()) return;
      for (uint64_t t : it->second) {
        CompleteReadLocked(t,
                           absl::UnavailableError(absl::StrCat(
                               "linearizable read: ", st.message())),
                           &out);
      }
      reads_in_flight_.erase(it);
    }
    RunCompletions(out);
  }

  void DrainReady() {
    while (raft_->HasReady()) {
      raft::Ready rd;
      {
        StallMeter::Op op(&stalls_, "get ready");
        rd = raft_->GetReady();
      }
      if (rd.soft_state.has_value()) {
        leader_ = rd.soft_state->role == raft::Role::kLeader;
      }
      const raftpb::HardState* hs =
          rd.hard_state.has_value() ? &*rd.hard_state : nullptr;
      const raftpb::Snapshot* snap =
          rd.snapshot.has_value() ? &*rd.snapshot : nullptr;
      const bool term_or_vote_changes =
          hs != nullptr && (hs->term() != saved_hard_state_.term() ||
                            hs->vote() != saved_hard_state_.vote());
      // The commit index is volatile state in Raft (Figure 2): a restarted
      // replica relearns it from the leader, and Raft::Create raises it to
      // the applied index. So a Ready that only moves the commit costs no
      // fsync; the next Save that must sync carries the newest value.
      if (hs != nullptr && rd.entries.empty() && snap == nullptr &&
          !term_or_vote_changes) {
        hs = nullptr;
      }
      // Committed entries are durable here already (raft.h), so they are
      // applied and answered without waiting for this Ready's write.
      if (snap == nullptr && !term_or_vote_changes) {
        // Asynchronous write (raft.h): send what may leave now, apply, then
        // hand the entries to the writer thread. A leader sends everything
        // first (its followers write while it does); the core counts its
        // copy toward a commit once LogWriter reports it durable. A
        // follower's acks leave from the writer, after the write. Applying
        // before submitting keeps the two from queueing on the shared file.
        std::vector<raftpb::Message> after;
        if (!leader_) {
          std::erase_if(rd.messages, [&](raftpb::Message& m) {
            if (!raft::AckAfterPersisted(m.type())) return false;
            after.push_back(std::move(m));
            return true;
          });
        }
        if (!rd.messages.empty()) {
          StallMeter::Op op(&stalls_, "send messages", rd.messages.size());
          transport_->Send(std::move(rd.messages));
          rd.messages.clear();
        }
        ApplyCommitted(rd.committed_entries,
                       /*wait=*/rd.soft_state.has_value());
        if (hs != nullptr || !rd.entries.empty() ||
            (!after.empty() && writer_->Busy())) {
          writer_->Submit(LogWriter::Write{
              hs ? std::optional<raftpb::HardState>(*hs) : std::nullopt,
              std::move(rd.entries), std::move(after)});
          rd.entries.clear();
          if (hs != nullptr) saved_hard_state_ = *hs;
        } else if (!after.empty()) {
          // Nothing is being written: everything is durable already.
          StallMeter::Op op(&stalls_, "send messages", after.size());
          transport_->Send(std::move(after));
        }
      } else {
        // A vote and a new term must be durable before any message leaves,
        // and a snapshot replaces the state machine: finish the applies and
        // writes in flight first, in order.
        ApplyPending(/*wait=*/true);
        if (writer_->Busy()) {
          StallMeter::Op op(&stalls_, "wait for log writes");
          writer_->Flush();
        }
        if (hs || !rd.entries.empty() || snap) {
          absl::Status st;
          {
            StallMeter::Op op(&stalls_,
                              snap ? "persist ready with snapshot"
                                   : "persist ready (entries)",
                              rd.entries.size());
            st = store_->Save(hs, rd.entries, snap);
          }
          if (!st.ok()) {
            StopOnStorageFailure(st);
            return;
          }
          if (hs != nullptr) saved_hard_state_ = *hs;
        }
        // A snapshot at index 0 only carries the bootstrap membership to a
        // joining replica (raft.h): no image, and nothing to replace.
        if (snap && snap->metadata().index() > 0) RestoreSnapshot(*snap);
        if (!rd.messages.empty()) {
          StallMeter::Op op(&stalls_, "send messages", rd.messages.size());
          transport_->Send(std::move(rd.messages));
        }
        ApplyCommitted(rd.committed_entries, /*wait=*/true);
      }
      HandleReadStates(rd.read_states);
      std::optional<raft::SoftState> soft = rd.soft_state;
      {
        StallMeter::Op op(&stalls_, "advance");
        raft_->Advance(rd);
      }
      if (MembershipSettled()) MaybeCompact();
      std::function<void(uint64_t, uint64_t)> cb;
      uint64_t lead = 0, term = 0;
      Completions out;
      {
        absl::MutexLock l(&mu_);
        uint64_t old_lead = status_.leader;
        RefreshStatusLocked();
        ReleaseIndexedReadsLocked(&out);
        // After this Ready's committed entries were applied (and answered).
        if (soft.has_value()) {
          FailOnLeaderChangeLocked(prev_soft_, *soft, &out);
          prev_soft_ = *soft;
        }
        if (soft.has_value() && soft->lead != old_lead) {
          cb = on_leader_change_;
          lead = status_.leader;
          term = status_.term;
        }
        done_cv_.SignalAll();
      }
      RunCompletions(out);
      if (cb) {
        StallMeter::Op op(&stalls_, "leader change callback");
        cb(lead, term);
      }
    }
  }

  // A replica that cannot persist must not send acks that claim it did.
  // Stop participating; the operator sees why in the log.
  void StopOnStorageFailure(const absl::Status& st) {
    fprintf(stderr, "raft node %lu: persisting Ready failed: %s\n", opts_.id,
            std::string(st.message()).c_str());
    Completions out;
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
      // Unavailable, not Internal: a leader sends its entries before its
      // own write, so a pending write may commit through the others. The
      // client must treat it as of unknown outcome (or retry it under its
      // request id), never as refused; the nemesis lock checker caught a
      // write reported as an error that was in the store.
      FailAllLocked(absl::UnavailableError(absl::StrCat(
                        "replica storage failed (the request may still commit "
                        "through the other replicas): ",
                        st.message())),
                    &out);
    }
    RunCompletions(out);
    if (opts_.on_storage_failure) opts_.on_storage_failure(st);
  }

  void RestoreSnapshot(const raftpb::Snapshot& snap) {
    absl::Status st;
    const absl::Time restore_start = clock_->Monotonic();
    {
      StallMeter::Op op(&stalls_, "restore snapshot into state machine");
      st = sm_->Restore(snap);
    }
    if (!st.ok()) {
      fprintf(stderr, "raft node %lu: restoring snapshot failed: %s\n",
              opts_.id, std::string(st.message()).c_str());
    } else {
      // Rare and worth seeing: how long installing it held this replica's
      // Raft thread (the persist step is timed by the caller).
      fprintf(stderr,
              "raft node %lu: installed snapshot at index %lu (%zu bytes); "
              "restoring the state machine took %lld ms on the raft thread\n",
              opts_.id, snap.metadata().index(), snap.data().size(),
              static_cast<long long>(absl::ToInt64Milliseconds(
                  clock_->Monotonic() - restore_start)));
    }
    absl::MutexLock l(&mu_);
    applied_ = snap.metadata().index();
    last_compact_index_ = applied_;
  }

  // Applies committed entries in order: now if the log's file is free (or
  // `wait`), otherwise they queue in pending_apply_ until the write in
  // progress is done. The state machine may share the log's file (lockd's
  // does), and a write holds it through its fsync; waiting for that here
  // would stall the driver for as long as the disk takes.
  void ApplyCommitted(const std::vector<raftpb::Entry>& entries, bool wait) {
    if (Defer(entries, wait)) {
      if (entries.empty()) return;
      if (apply_due_ == absl::InfiniteFuture()) {
        apply_due_ = clock_->Monotonic() + opts_.follower_apply_delay;
      }
      pending_apply_.insert(pending_apply_.end(), entries.begin(),
                            entries.end());
      return;
    }
    apply_due_ = absl::InfiniteFuture();
    if (!entries.empty() && pending_apply_.empty()) {
      if (LockFile(wait)) {
        ApplyLocked(entries);
      } else {
        pending_apply_ = entries;
      }
      return;
    }
    pending_apply_.insert(pending_apply_.end(), entries.begin(), entries.end());
    ApplyPending(wait);
  }

  // Whether a follower may hold `entries` back (NodeOptions::
  // follower_apply_delay): not on a leader, whose clients wait for the
  // apply; not at a leader change (`wait`); not behind entries that wait
  // for the log's file rather than for the delay; not a membership change,
  // which the transport and compaction must see applied; not while a read
  // waits for the applied index.
  bool Defer(const std::vector<raftpb::Entry>& entries, bool wait) {
    if (leader_ || wait || opts_.follower_apply_delay <= absl::ZeroDuration()) {
      return false;
    }
    // A Ready without committed entries keeps what is held back as it is.
    if (entries.empty()) {
      return apply_due_ != absl::InfiniteFuture() && !ReadsWaiting();
    }
    if (!pending_apply_.empty() && apply_due_ == absl::InfiniteFuture()) {
      return false;
    }
    if (pending_apply_.size() + entries.size() >
        opts_.follower_apply_max_entries) {
      return false;
    }
    for (const raftpb::Entry& e : entries) {
      if (e.type() == raftpb::ENTRY_CONF_CHANGE) return false;
    }
    return !ReadsWaiting();
  }

  bool ReadsWaiting() {
    absl::MutexLock l(&mu_);
    return !indexed_reads_.empty() || !reads_in_flight_.empty() ||
           !unassigned_reads_.empty();
  }

  // True if the core's membership is that of the applied state: no
  // membership change was handed out and is still waiting to be applied.
  // (Under steady writes some entries are nearly always waiting, so
  // compaction and snapshots cannot wait for none.)
  bool MembershipSettled() const {
    return std::none_of(pending_apply_.begin(), pending_apply_.end(),
                        [](const raftpb::Entry& e) {
                          return e.type() == raftpb::ENTRY_CONF_CHANGE;
                        });
  }

  void ApplyPending(bool wait) {
    if (pending_apply_.empty() || !LockFile(wait)) return;
    apply_due_ = absl::InfiniteFuture();
    std::vector<raftpb::Entry> entries = std::move(pending_apply_);
    pending_apply_.clear();
    ApplyLocked(entries);
  }

  // Takes the log's file for an apply. Without `wait`, if the writer holds
  // it, asks the writer to pause after that job (its `done` wakes the
  // driver, which then finds the file free) and returns false.
  bool LockFile(bool wait) {
    absl::Mutex& mu = store_->file_write_mu();
    if (!wait) {
      // The writer may finish and start its next job between the two
      // checks; a few rounds settle it, then wait like before.
      for (int i = 0; i < 3; ++i) {
        if (mu.TryLock()) return true;
        if (writer_->YieldIfWriting()) return false;
      }
    }
    StallMeter::Op op(&stalls_, "wait for the log file");
    mu.Lock();
    return true;
  }

  // Applies `entries` with the log's file held (released here) and answers
  // their proposers, taking mu_ once for the whole batch rather than once
  // per entry.
  void ApplyLocked(const std::vector<raftpb::Entry>& entries) {
    StallMeter::Op op(&stalls_, "apply committed entries", entries.size());
    std::vector<std::pair<uint64_t, std::string>> results;
    sm_->BeginApplyBatch();
    for (size_t i = 0; i < entries.size(); ++i) {
      const raftpb::Entry& e = entries[i];
      if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
        raftpb::ConfChange cc;
        if (cc.ParseFromString(e.data())) {
          if (cc.type() == raftpb::CONF_REMOVE_NODE) {
            transport_->RemovePeer(cc.node_id());
          } else if (cc.node_id() != opts_.id && !cc.context().empty()) {
            transport_->AddPeer(cc.node_id(), cc.context());
          }
          sm_->ApplyConfChange(e.index(), cc);
        }
        continue;
      }
      // Every index reaches the state machine, so that it can record its
      // applied index without gaps; a new leader's no-op is empty.
      uint64_t request_id = 0;
      std::string_view payload;
      if (UnframeProposal(e.data(), &request_id, &payload)) {
        results.emplace_back(request_id, sm_->Apply(e.index(), payload));
      } else {
        sm_->Apply(e.index(), {});
      }
    }
    sm_->EndApplyBatch();
    store_->file_write_mu().Unlock();
    writer_->EndYield();
    Completions out;
    {
      absl::MutexLock l(&mu_);
      applied_ = entries.back().index();
      for (auto& [request_id, result] : results) {
        CompleteProposalLocked(request_id, std::move(result), &out);
      }
      ReleaseIndexedReadsLocked(&out);
    }
    RunCompletions(out);
  }

  void HandleReadStates(const std::vector<raft::ReadState>& states) {
    if (states.empty()) return;
    absl::MutexLock l(&mu_);
    for (const raft::ReadState& rs : states) {
      auto it = reads_in_flight_.find(rs.request_ctx);
      if (it == reads_in_flight_.end()) continue;
      for (uint64_t t : it->second) {
        if (reads_.contains(t)) indexed_reads_.emplace_back(rs.index, t);
      }
      reads_in_flight_.erase(it);
    }
  }

  void ReleaseIndexedReadsLocked(Completions* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::erase_if(indexed_reads_, [&](const std::pair<uint64_t, uint64_t>& r) {
      if (!reads_.contains(r.second)) return true;  // cancelled or expired
      if (r.first > applied_) return false;
      CompleteReadLocked(r.second, absl::OkStatus(), out);
      return true;
    });
  }

  // Discards applied entries from the log, keeping opts_.keep_entries for
  // followers that are only a little behind. No image is taken: the applied
  // state is durable in the state machine, and a follower that needs more
  // than the log holds gets an image built on demand (MaybeBuildSnapshot).
  //
  // Durability: the state machine has committed every batch up to
  // `applied` before the compaction is queued. In lockd both share one
  // SQLite WAL file, and the compaction's own synchronous commit fsyncs
  // that file, so every state-machine commit before it is on disk before
  // the log entries it covers are gone.
  void MaybeCompact() {
    uint64_t applied;
    {
      absl::MutexLock l(&mu_);
      applied = applied_;
    }
    if (opts_.snapshot_every == 0 ||
        applied < last_compact_index_ + opts_.snapshot_every) {
      return;
    }
    uint64_t compact_to =
        applied > opts_.keep_entries ? applied - opts_.keep_entries : 0;
    compact_to = std::max(compact_to, store_->FirstIndex() - 1);
    // On the writer thread, behind the writes already queued: it holds the
    // file through a DELETE of thousands of rows and an fsync.
    writer_->Compact(applied, raft_->GetStatus().conf_state, compact_to);
    last_compact_index_ = applied;
  }

  // Starts building an image the core asked for (SnapshotStorage); only
  // the pin runs here, the copy runs on the builder thread.
  void MaybeBuildSnapshot() {
    uint64_t applied;
    {
      absl::MutexLock l(&mu_);
      applied = applied_;
    }
    StallMeter::Op op(&stalls_, "pin snapshot view");
    snapshots_->MaybeStartBuild(sm_, applied, raft_->GetStatus().conf_state);
  }

  const NodeOptions opts_;
  Clock* const clock_;
  // The replica's log, shared by the driver and writer_ (owned here).
  const std::unique_ptr<ConcurrentLogStore> store_;
  StateMachine* const sm_;
  Transport* const transport_;
  // What the core reads as its storage; serves on-demand images.
  const std::unique_ptr<SnapshotStorage> snapshots_;
  // Owned by the driver thread once started (and by calls_ run under mu_).
  std::unique_ptr<raft::Raft> raft_;
  StallMeter stalls_;
  uint64_t last_compact_index_ = 0;     // driver thread only
  bool leader_ = false;                 // driver thread only
  raft::SoftState prev_soft_;           // driver thread only
  raftpb::HardState saved_hard_state_;  // driver thread only
  // Committed entries handed out but not applied yet: the log's file was
  // busy with a write (ApplyCommitted). Driver thread only.
  std::vector<raftpb::Entry> pending_apply_;
  // While pending_apply_ is held back on purpose (Defer): when it is due,
  // on the monotonic clock. InfiniteFuture otherwise. Driver thread only.
  absl::Time apply_due_ = absl::InfiniteFuture();

  absl::Mutex mu_;
  absl::CondVar work_cv_;  // wakes the driver
  absl::CondVar done_cv_;  // wakes waiting callers
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_read_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<raftpb::Message> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> unreachable_ ABSL_GUARDED_BY(mu_);
  uint64_t next_call_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::function<void()>> calls_ ABSL_GUARDED_BY(mu_);
  // Pending proposals and reads by ticket. The queues below hold tickets
  // and skip those that completed meanwhile (cancelled, expired).
  std::map<uint64_t, PendingProposal> proposals_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> new_proposals_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, PendingRead> reads_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> unassigned_reads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<uint64_t>> reads_in_flight_
      ABSL_GUARDED_BY(mu_);
  // (read index, ticket) once the ReadIndex round confirmed.
  std::vector<std::pair<uint64_t, uint64_t>> indexed_reads_
      ABSL_GUARDED_BY(mu_);
  // Every pending proposal and read with a finite deadline.
  std::set<std::pair<absl::Time, uint64_t>> deadlines_ ABSL_GUARDED_BY(mu_);
  NodeStatus status_ ABSL_GUARDED_BY(mu_);
  std::function<void(uint64_t, uint64_t)> on_leader_change_
      ABSL_GUARDED_BY(mu_);
  // Leader writes completed by writer_, for Raft::OnPersisted.
  std::vector<LogWriter::Written> written_ ABSL_GUARDED_BY(mu_);
  // Last member: its thread reports into mu_ and written_, so it stops
  // before they are destroyed.
  std::unique_ptr<LogWriter> writer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RaftNode>> RaftNode::Create(
    const NodeOptions& opts, raft::LogStore* storage, StateMachine* sm,
    Transport* transport) {
  if (opts.id == 0) return absl::InvalidArgumentError("replica id must be > 0");
  if (!storage || !sm || !transport) {
    return absl::InvalidArgumentError(
        "storage, state machine and transport "
        "are required");
  }
  // Recovery: a replica that crashed after persisting a leader's snapshot
  // but before restoring its state machine from it holds the image only in
  // the log store. Restore it now, or the entries the snapshot replaced
  // would never reach the state machine.
  if (absl::StatusOr<raftpb::Snapshot> stored = storage->GetSnapshot();
      stored.ok() && !stored->data().empty() &&
      stored->metadata().index() > sm->AppliedIndex()) {
    if (absl::Status st = sm->Restore(*stored); !st.ok()) return st;
  }
  auto store = std::make_unique<ConcurrentLogStore>(storage);
  auto snapshots = std::make_unique<SnapshotStorage>(store.get(), opts.id);
  raft::Config cfg;
  cfg.id = opts.id;
  cfg.storage = snapshots.get();
  cfg.election_tick = opts.election_tick;
  cfg.heartbeat_tick = opts.heartbeat_tick;
  cfg.applied = sm->AppliedIndex();
  cfg.max_inflight_bytes = opts.max_inflight_bytes;
  cfg.seed = opts.id * 0x9E3779B97F4A7C15ull ^
             static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  absl::StatusOr<std::unique_ptr<raft::Raft>> r = raft::Raft::Create(cfg);
  if (!r.ok()) return r.status();
  return std::unique_ptr<RaftNode>(
      new RaftNodeImpl(opts, std::move(store), sm, transport,
                       std::move(snapshots), std::move(*r)));
}

}  // namespace berth::node
