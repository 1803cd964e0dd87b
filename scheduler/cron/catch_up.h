// Catch-up planning: given a job's last-scheduled marker and the time,
// which tick (if any) to claim next and how many ticks are passed over.
//
// Pure functions of a Schedule and integers; the engine turns a TickPlan
// into one fenced transaction. Ticks are unix seconds; a tick is due when
// tick <= now.
//
// Work is bounded no matter how long the scheduler was down: the next
// tick after any instant is one Schedule::Next call, the latest tick before
// now is found by galloping backwards, and passed-over ticks are counted
// exactly for "@every" (arithmetic) and for other specs up to
// kMaxEnumeratedTicks, beyond which the count is extrapolated from the
// enumerated ticks' mean spacing (TickCount::exact is then false).
//
// Thread safety: pure; any thread.
#ifndef BERTH_SCHEDULER_CRON_CATCH_UP_H_
#define BERTH_SCHEDULER_CRON_CATCH_UP_H_

#include <cstdint>
#include <optional>

#include "proto/job.pb.h"
#include "scheduler/cron/schedule.h"

namespace berth::cron {

inline constexpr int64_t kMaxEnumeratedTicks = 1000;

// A schedule plus its "@every" period (0 for field specs), which makes
// counting arithmetic.
struct TickSource {
  const Schedule* schedule = nullptr;
  int64_t every_seconds = 0;

  // The first tick strictly after `after`, if any.
  std::optional<int64_t> Next(int64_t after) const;
  // The latest tick in (after, until], if any.
  std::optional<int64_t> Latest(int64_t after, int64_t until) const;
};

struct TickCount {
  int64_t count = 0;
  bool exact = true;
};
// Ticks in (after, until].
TickCount CountTicks(const TickSource& ticks, int64_t after, int64_t until);

struct CatchUpPolicy {
  jobpb::CronPolicy::CatchUp mode = jobpb::CronPolicy::NONE;
  int64_t starting_deadline_ms = 0;  // 0 = no deadline
  // catch_up none still runs a tick this late (the scheduler's own loop
  // latency must not count as "missed").
  int64_t on_time_grace_ms = 5000;
};

struct TickPlan {
  enum class Kind {
    kWait,  // nothing due; `tick` is the next one (0: never again)
    kFire,  // claim `tick`; `missed` ticks before it are passed over
    kMiss,  // nothing to run; `tick` is the newest of `missed` ticks
  };
  Kind kind = Kind::kWait;
  int64_t tick = 0;
  int64_t missed = 0;
  bool missed_exact = true;
};

// `marker`: the last tick claimed or passed over (ticks <= marker are never
// planned again). `now_ms`: the scheduler's wall clock.
TickPlan PlanTicks(const TickSource& ticks, int64_t marker, int64_t now_ms,
                   const CatchUpPolicy& policy);

}  // namespace berth::cron

#endif  // BERTH_SCHEDULER_CRON_CATCH_UP_H_
