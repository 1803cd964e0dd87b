// FireTimes: the next N fire times of a schedule, each with its local
// reading and a note when a DST change shaped it. Backs `berth cron next`,
// which must answer exactly as the engine fires, so it calls the same
// Schedule::Next and only explains the result afterwards.
//
// Pure: no clock, no I/O beyond the tzdb reads that Schedule::Parse does.
// Safe from any thread.
#ifndef BERTH_SCHEDULER_CRON_FIRE_TIMES_H_
#define BERTH_SCHEDULER_CRON_FIRE_TIMES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/cron/schedule.h"

namespace berth::cron {

struct FireTime {
  enum class Dst {
    kNone,
    // A fixed-hour spec named a local time that a spring-forward skipped;
    // it fires once, at the end of the gap.
    kMovedByGap,
    // The local reading occurs twice (fall-back). Fixed-hour specs fire at
    // the first occurrence only; elapsed-time specs fire at both.
    kAmbiguousFirst,
    kAmbiguousSecond,
  };
  absl::Time instant;
  std::string local;    // "2026-03-29 03:00:00 CEST"
  std::string rfc3339;  // local reading with its offset
  std::string utc;      // "2026-03-29T01:00:00Z"
  Dst dst = Dst::kNone;
  // Human-readable explanation of `dst`; empty for kNone.
  std::string note;
};

// Up to `count` fire times strictly after `from` (fewer when the schedule
// ends before year 9999). `count` must be in [1, 10000].
absl::StatusOr<std::vector<FireTime>> NextFireTimes(const Schedule& schedule,
                                                    absl::Time from, int count);

}  // namespace berth::cron

#endif  // BERTH_SCHEDULER_CRON_FIRE_TIMES_H_
