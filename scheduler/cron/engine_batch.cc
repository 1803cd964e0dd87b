// Batching of the cron engine's commits: the claims of one Step, and the
// finalizations of one scan, share transactions (docs/cron.md, "Batching").
//
// Why a batch never changes what applies. Every piece is one job's
// transaction as it would be committed alone: built from the same mirror,
// with its own conditions (marker as read, run and allocation keys absent,
// every rewritten record at the mod revision it was read at). Pieces of a
// batch belong to distinct jobs and so touch disjoint keys, and lockd checks
// all conditions before applying any operation. So:
//  * committed: each piece applied exactly as it would have alone, in one
//    revision, which every job of the batch then waits for in the mirror;
//  * conflict: a transaction applies all or nothing, so nothing applied;
//    each piece is committed again on its own, unchanged, and only those
//    whose own conditions fail conflict (and are re-planned from the
//    mirror once it has caught up);
//  * unknown (UNAVAILABLE, timeout): every job takes its retry path, which
//    rebuilds its piece from the mirror; if the batch did apply, the
//    rebuilt conditions fail and nothing applies twice;
//  * lost fence: nothing applied; the engine stops.
// A batch adds no condition a piece lacked, and drops none.
#include <algorithm>
#include <iterator>
#include <utility>

#include "scheduler/cron/engine.h"
#include "scheduler/cron/engine_txn.h"

namespace berth::cron {

absl::Status CronEngine::CommitPieces(
    const std::vector<Piece>& pieces, const sched::Fence& fence,
    int64_t* batches, int64_t* fallbacks,
    const std::function<void(size_t, Outcome)>& done) {
  if (pieces.empty()) return absl::OkStatus();
  if (pieces.size() == 1) {
    absl::StatusOr<Outcome> out = Commit(*pieces[0].txn, fence, *pieces[0].id);
    if (!out.ok()) return out.status();
    done(0, *out);
    return absl::OkStatus();
  }
  // The pieces' conditions and operations move into one transaction and,
  // if it conflicts, back: copying every key and value of a burst's claims
  // was a fifth of a claim's cost at 100,000 jobs.
  sched::StoreTxn& txn = combined_;
  txn.conds.clear();
  txn.ops.clear();
  batch_ids_.clear();
  for (const Piece& p : pieces) {
    batch_ids_.push_back(*p.id);
    std::move(p.txn->conds.begin(), p.txn->conds.end(),
              std::back_inserter(txn.conds));
    std::move(p.txn->ops.begin(), p.txn->ops.end(),
              std::back_inserter(txn.ops));
  }
  ++*batches;
  absl::StatusOr<Outcome> out = Commit(txn, fence, batch_ids_);
  if (!out.ok()) return out.status();
  if (*out != Outcome::kConflict) {
    for (size_t i = 0; i < pieces.size(); ++i) done(i, *out);
    return absl::OkStatus();
  }
  --stats_.conflicts;  // counted per piece below
  ++*fallbacks;
  size_t cond = 0, op = 0;
  for (const Piece& p : pieces) {
    for (sched::StoreCond& c : p.txn->conds) c = std::move(txn.conds[cond++]);
    for (sched::StoreOp& o : p.txn->ops) o = std::move(txn.ops[op++]);
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    absl::StatusOr<Outcome> one = Commit(*pieces[i].txn, fence, *pieces[i].id);
    if (!one.ok()) return one.status();
    done(i, *one);
  }
  return absl::OkStatus();
}

absl::Status CronEngine::CommitClaims(std::vector<Claim>* batch, absl::Time now,
                                      const sched::Fence& fence) {
  std::vector<Piece>& pieces = pieces_;
  pieces.clear();
  for (Claim& c : *batch) pieces.push_back({&c.id, &c.txn});
  absl::Status s = CommitPieces(
      pieces, fence, &stats_.batches, &stats_.batch_fallbacks,
      [&](size_t i, Outcome out) { FinishClaim((*batch)[i], out, now); });
  batch->clear();
  return s;
}

absl::Status CronEngine::CommitFinishes(std::vector<Finish>* batch,
                                        absl::Time now,
                                        const sched::Fence& fence) {
  std::vector<Piece>& pieces = pieces_;
  pieces.clear();
  for (Finish& f : *batch) pieces.push_back({&f.id, &f.txn});
  absl::Status s = CommitPieces(
      pieces, fence, &stats_.finalize_batches, &stats_.finalize_fallbacks,
      [&](size_t i, Outcome out) {
        const Finish& f = (*batch)[i];
        if (out == Outcome::kCommitted) {
          stats_.finalized += f.finalized;
          stats_.timeouts += f.stops;
          stats_.history_deleted += f.trimmed;
        } else if (out == Outcome::kUnknown) {
          // Look again after the backoff even if the mirror does not move.
          next_timeout_ = std::min(next_timeout_, now + options_.retry_backoff);
        }
        // A conflict: the job waits for the mirror, whose next revision
        // triggers the next scan.
      });
  batch->clear();
  return s;
}

}  // namespace berth::cron
