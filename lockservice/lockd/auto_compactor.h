// AutoCompactor: the leader's policy for compacting the watch history
// automatically, after etcd's --auto-compaction-mode/-retention:
//  * revision: keep the last `retention_revisions` revisions. Compacts to
//    revision - retention once that is a tenth of the retention (at least
//    one revision) past the current compaction point, so it proposes one
//    Compact per retention/10 writes, not one per write;
//  * periodic: keep at least `retention_period` of history. The leader
//    samples (its clock, the revision) as it ticks and compacts to the
//    revision it saw `retention_period` ago, at most every period/10. A new
//    leader starts sampling afresh, so after a leader change history is
//    kept longer, never shorter;
//  * off.
// It only decides; LeaderDuties proposes the Compact command, which goes
// through the same state-machine path as the Compact RPC. Time is whatever
// the caller passes (the leader's clock), never read here.
//
// Thread safety: none; owned by the LeaderDuties thread.
#ifndef BERTH_LOCKSERVICE_LOCKD_AUTO_COMPACTOR_H_
#define BERTH_LOCKSERVICE_LOCKD_AUTO_COMPACTOR_H_

#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::lockd {

struct AutoCompactionOptions {
  enum class Mode { kOff, kRevision, kPeriodic };
  Mode mode = Mode::kRevision;
  int64_t retention_revisions = 10000;
  absl::Duration retention_period = absl::Minutes(5);
};

// Parses the flags: mode "revision" | "periodic" | "off"; retention a
// revision count (revision mode) or a duration such as "5m", "90s", "1h"
// (periodic; a bare number means hours, as in etcd). An empty retention
// picks the mode's default (10000 revisions, 5m).
absl::StatusOr<AutoCompactionOptions> ParseAutoCompaction(
    const std::string& mode, const std::string& retention);

// "revision 10000", "periodic 5m", "off": for logs and docs.
std::string DescribeAutoCompaction(const AutoCompactionOptions& opts);

class AutoCompactor {
 public:
  explicit AutoCompactor(const AutoCompactionOptions& opts) : opts_(opts) {}

  // Called on every leader tick with the leader's clock and the applied
  // revision and compaction point. Returns the revision to compact to, or
  // 0 for "nothing to do now".
  int64_t Next(absl::Time now, int64_t revision, int64_t compact_revision);
  // Leadership lost: periodic samples from another term prove nothing.
  void Reset();

 private:
  int64_t NextPeriodic(absl::Time now, int64_t revision,
                       int64_t compact_revision);

  const AutoCompactionOptions opts_;
  std::deque<std::pair<absl::Time, int64_t>> samples_;  // oldest first
  absl::Time last_compaction_ = absl::InfinitePast();
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_AUTO_COMPACTOR_H_
