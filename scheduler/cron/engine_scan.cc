// The active-run scan of the cron engine: finalizes runs whose allocation
// has finished and stops runs past their timeout, for every job with an
// ACTIVE run, packing the jobs' pieces into shared transactions under
// lockd's operation limit (see engine_batch.cc for why that is safe).
#include <algorithm>
#include <optional>
#include <utility>

#include "scheduler/cron/engine.h"
#include "scheduler/cron/engine_txn.h"

namespace berth::cron {

bool CronEngine::PlanFinish(const sched::ClusterState& state,
                            const sched::JobId& id, absl::Time now, Finish* f,
                            bool* still_active) {
  const int64_t now_ms = absl::ToUnixMillis(now);
  internal::JobView view = internal::ViewOf(state, id);
  f->id = id;
  std::vector<jobpb::CronRun> written;
  *still_active = false;
  const int64_t timeout_ms =
      view.record == nullptr ? 0 : view.record->job().task().timeout_ms();
  if (view.runs != nullptr) {
    for (const auto& [tick, run] : *view.runs) {
      if (run.value.result() != jobpb::CronRun::ACTIVE) continue;
      // A full piece: the rest wait for the next scan, which the commit's
      // own revision triggers.
      if (static_cast<int>(written.size()) + f->stops >=
          internal::kMaxFinalizedPerTxn) {
        *still_active = true;
        break;
      }
      std::optional<internal::RunEnd> end =
          internal::FinishedRun(state, run.value, view.record, now_ms);
      if (end) {
        written.push_back(internal::PutFinished(run, *end, now_ms, &f->txn));
        continue;
      }
      *still_active = true;
      const agentpb::AllocationStatus* s =
          state.FindStatus(run.value.alloc_id());
      if (timeout_ms <= 0 || s == nullptr || s->start_unix_ms() <= 0) {
        continue;
      }
      absl::Time deadline = absl::FromUnixMillis(s->start_unix_ms()) +
                            absl::Milliseconds(timeout_ms);
      if (now < deadline) {
        next_timeout_ = std::min(next_timeout_, deadline);
      } else if (internal::StopTimedOut(state, run.value, timeout_ms,
                                        &f->txn)) {
        ++f->stops;
      }
    }
  }
  if (f->txn.ops.empty()) return false;
  f->finalized = static_cast<int64_t>(written.size());
  f->trimmed = internal::AppendTrim(
      state, view, written, options_.max_history_deletes_per_txn, &f->txn);
  return true;
}

absl::Status CronEngine::ScanActive(const sched::ClusterState& state,
                                    absl::Time now, const sched::Fence& fence) {
  scanned_revision_ = state.revision();
  next_timeout_ = absl::InfiniteFuture();
  std::vector<Finish>& batch = finish_batch_;
  batch.clear();
  size_t batch_size = 0;
  for (auto it = active_.begin(); it != active_.end();) {
    if (Waiting(state, *it)) {
      ++it;
      continue;
    }
    Finish f;
    bool still_active = false;
    if (!PlanFinish(state, *it, now, &f, &still_active)) {
      it = still_active ? std::next(it) : active_.erase(it);
      continue;
    }
    // Stays in active_ until a scan finds nothing left to write.
    ++it;
    if (!batch.empty() &&
        batch_size + f.size() > static_cast<size_t>(internal::kTxnLimit)) {
      if (absl::Status s = CommitFinishes(&batch, now, fence); !s.ok()) {
        return s;
      }
      batch_size = 0;
    }
    batch_size += f.size();
    batch.push_back(std::move(f));
  }
  return CommitFinishes(&batch, now, fence);
}

}  // namespace berth::cron
