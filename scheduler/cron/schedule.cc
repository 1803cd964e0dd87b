#include "scheduler/cron/schedule.h"

#include <chrono>
#include <exception>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "date/tz.h"
#include "scheduler/cron/parser.h"

namespace berth::cron {
namespace {

constexpr int kLastYear = 9999;
// 1800-01-01T00:00:00Z: earlier `after` values are treated as this instant.
constexpr int64_t kMinSeconds = -5'364'662'400;
// 9999-12-31T23:59:59Z.
constexpr int64_t kMaxSeconds = 253'402'300'799;
// Wider than any UTC offset change on record (Apia skipped one day).
constexpr int64_t kMaxShift = 2 * 86400;

date::sys_seconds Sys(int64_t s) {
  return date::sys_seconds{std::chrono::seconds{s}};
}

int64_t Count(date::sys_seconds t) { return t.time_since_epoch().count(); }

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

absl::StatusOr<Schedule> Schedule::Parse(std::string_view spec,
                                         std::string_view tz) {
  Schedule s;
  s.spec_ = std::string(spec);
  s.tz_name_ = tz.empty() ? "UTC" : std::string(tz);
  try {
    s.zone_ = date::locate_zone(s.tz_name_);
  } catch (const std::exception&) {
    // date/tz reports an unknown zone by throwing; keep it inside.
    return absl::InvalidArgumentError(
        absl::StrCat("unknown time zone '", s.tz_name_,
                     "' (expected an IANA name such as Europe/Berlin)"));
  }
  absl::StatusOr<ParsedSpec> parsed = ParseSpec(spec);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid cron spec '", s.spec_, "': ", parsed.status().message()));
  }
  s.is_every_ = parsed->is_every;
  s.every_seconds_ = parsed->every_seconds;
  s.fields_ = parsed->fields;
  return s;
}

std::optional<absl::Time> Schedule::Next(absl::Time after) const {
  // Fire times are whole seconds, so "strictly after" starts at the next
  // whole second (ToUnixSeconds rounds toward the past).
  int64_t seconds = absl::ToUnixSeconds(after);
  if (seconds >= kMaxSeconds) return std::nullopt;
  if (seconds < kMinSeconds) seconds = kMinSeconds;
  std::optional<int64_t> next;
  if (is_every_) {
    next = NextEvery(seconds);
  } else if (fields_.elapsed_hours) {
    next = NextElapsed(seconds + 1);
  } else {
    next = NextFixed(seconds + 1);
  }
  if (!next || *next > kMaxSeconds) return std::nullopt;
  return absl::FromUnixSeconds(*next);
}

// "@every" ticks are multiples of the period since the Unix epoch, so every
// replica computes the same ticks no matter when it started.
std::optional<int64_t> Schedule::NextEvery(int64_t after_seconds) const {
  return (FloorDiv(after_seconds, every_seconds_) + 1) * every_seconds_;
}

// Elapsed-time rule: an instant fires when its local wall-clock reading
// matches. Within one offset period local time is instant + offset, so search
// local time there, then move to the next period. Skipped local times never
// fire; repeated ones fire once per occurrence.
std::optional<int64_t> Schedule::NextElapsed(int64_t first) const {
  date::sys_info info = zone_->get_info(Sys(first));
  int64_t start_local = first + info.offset.count();
  std::optional<int64_t> match;
  int64_t searched_from = 0;
  while (true) {
    // After a spring-forward the previous answer still holds if it lies past
    // the gap: nothing matched between the old start and it. After a
    // fall-back local time restarts earlier, so search again.
    if (!match || start_local < searched_from || *match < start_local) {
      match = fields_.NextLocalMatch(start_local, kLastYear);
      if (!match) return std::nullopt;
      searched_from = start_local;
    }
    int64_t instant = *match - info.offset.count();
    int64_t period_end = Count(info.end);
    if (instant < period_end) return instant;
    if (period_end > kMaxSeconds) return std::nullopt;
    info = zone_->get_info(Sys(period_end));
    start_local = period_end + info.offset.count();
  }
}

// Fixed-time rule: each matching local time fires once, at its unique
// instant, at its first occurrence when repeated, or at the end of the gap
// when skipped. That map from local time to instant never decreases, so the
// answer is the first match at or after the smallest local time whose
// instant is >= `first`.
std::optional<int64_t> Schedule::NextFixed(int64_t first) const {
  date::sys_info info = zone_->get_info(Sys(first));
  int64_t begin = Count(info.begin);
  int64_t start_local = first + info.offset.count();
  if (first - begin < kMaxShift) {
    date::sys_info prev = zone_->get_info(Sys(begin - 1));
    int64_t shift = (prev.offset - info.offset).count();
    if (shift > 0 && first < begin + shift) {
      // `first` repeats a local time already shown before `begin`: those
      // local times fired at their first occurrence, so skip past them.
      start_local = begin + prev.offset.count();
    } else if (shift < 0 && first == begin) {
      // `first` is the end of a gap, where skipped local times fire.
      start_local = begin + prev.offset.count();
    }
  }
  while (true) {
    std::optional<int64_t> match =
        fields_.NextLocalMatch(start_local, kLastYear);
    if (!match) return std::nullopt;
    date::local_info li =
        zone_->get_info(date::local_seconds{std::chrono::seconds{*match}});
    int64_t instant = li.result == date::local_info::nonexistent
                          ? Count(li.second.begin)
                          : *match - li.first.offset.count();
    if (instant >= first) return instant;
    // Only reachable with back-to-back transitions the adjustment above did
    // not foresee; stepping on keeps the answer correct.
    start_local = *match + 1;
  }
}

}  // namespace berth::cron
