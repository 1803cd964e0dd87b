#include "scheduler/cron/catch_up.h"

#include <algorithm>

namespace berth::cron {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::optional<int64_t> TickSource::Next(int64_t after) const {
  std::optional<absl::Time> t = schedule->Next(absl::FromUnixSeconds(after));
  if (!t) return std::nullopt;
  return absl::ToUnixSeconds(*t);
}

// Gallops back from `until` (window 1 s, 2 s, 4 s, ...) until a window
// holds a tick, then walks forward inside it. The previous window was
// empty, so the walk only crosses the ticks of one gap's width.
std::optional<int64_t> TickSource::Latest(int64_t after, int64_t until) const {
  if (until <= after) return std::nullopt;
  std::optional<int64_t> found;
  for (int64_t w = 1;; w *= 2) {
    int64_t lo = std::max(after, until - w);
    std::optional<int64_t> t = Next(lo);
    if (t && *t <= until) {
      found = t;
      break;
    }
    if (lo == after) return std::nullopt;
  }
  int64_t latest = *found;
  while (true) {
    std::optional<int64_t> n = Next(latest);
    if (!n || *n > until) return latest;
    latest = *n;
  }
}

TickCount CountTicks(const TickSource& ticks, int64_t after, int64_t until) {
  TickCount out;
  if (until <= after) return out;
  if (ticks.every_seconds > 0) {
    out.count = FloorDiv(until, ticks.every_seconds) -
                FloorDiv(after, ticks.every_seconds);
    return out;
  }
  std::optional<int64_t> first = ticks.Next(after);
  if (!first || *first > until) return out;
  int64_t last = *first;
  out.count = 1;
  while (out.count < kMaxEnumeratedTicks) {
    std::optional<int64_t> n = ticks.Next(last);
    if (!n || *n > until) return out;
    last = *n;
    ++out.count;
  }
  // Too many to enumerate: extrapolate from the mean spacing so far.
  std::optional<int64_t> n = ticks.Next(last);
  if (!n || *n > until) return out;
  double spacing =
      static_cast<double>(last - *first) / static_cast<double>(out.count - 1);
  out.count += 1 + static_cast<int64_t>(static_cast<double>(until - *n) /
                                        std::max(spacing, 1.0));
  out.exact = false;
  return out;
}

TickPlan PlanTicks(const TickSource& ticks, int64_t marker, int64_t now_ms,
                   const CatchUpPolicy& policy) {
  TickPlan plan;
  const int64_t now = FloorDiv(now_ms, 1000);
  std::optional<int64_t> first = ticks.Next(marker);
  if (!first || *first > now) {
    plan.tick = first.value_or(0);
    return plan;
  }
  const int64_t deadline = policy.starting_deadline_ms;
  auto within = [&](int64_t tick, int64_t limit_ms) {
    return limit_ms <= 0 || now_ms - tick * 1000 <= limit_ms;
  };
  auto fire = [&](int64_t tick) {
    TickCount c = CountTicks(ticks, marker, tick - 1);
    plan.kind = TickPlan::Kind::kFire;
    plan.tick = tick;
    plan.missed = c.count;
    plan.missed_exact = c.exact;
    return plan;
  };
  if (policy.mode == jobpb::CronPolicy::ALL) {
    if (within(*first, deadline)) return fire(*first);
    // The oldest tick still inside the deadline: t * 1000 >= now_ms - D.
    int64_t oldest = -FloorDiv(-(now_ms - deadline), 1000);
    std::optional<int64_t> e = ticks.Next(std::max(marker, oldest - 1));
    if (e && *e <= now) return fire(*e);
  }
  std::optional<int64_t> latest = ticks.Latest(marker, now);
  // `first` <= now guarantees a latest tick.
  int64_t last = latest.value_or(*first);
  int64_t limit = deadline;
  if (policy.mode == jobpb::CronPolicy::NONE) {
    limit = deadline > 0 ? std::min(deadline, policy.on_time_grace_ms)
                         : policy.on_time_grace_ms;
  }
  if (policy.mode != jobpb::CronPolicy::ALL && within(last, limit)) {
    return fire(last);
  }
  TickCount c = CountTicks(ticks, marker, last);
  plan.kind = TickPlan::Kind::kMiss;
  plan.tick = last;
  plan.missed = c.count;
  plan.missed_exact = c.exact;
  return plan;
}

}  // namespace berth::cron
