// Schedule: a parsed cron expression bound to an IANA time zone, answering
// "when does it fire next?". The full semantics, including the DST rule, are
// in docs/cron.md.
//
//   absl::StatusOr<Schedule> s = Schedule::Parse("30 2 * * *",
//   "Europe/Berlin"); std::optional<absl::Time> t = s->Next(absl::Now());
//
// Pure: no clock, no I/O after Parse (which reads the system tzdb under
// /usr/share/zoneinfo once per zone). A Schedule is an immutable value; copy
// it freely and call Next from any number of threads at once. It borrows the
// zone from date/tz's process-wide database, which lives until exit.
//
// Known limit: date/tz reads only the transitions listed in the zoneinfo
// files, which end in 2037; later local times use the zone's last listed
// offset (no DST).
#ifndef BERTH_SCHEDULER_CRON_SCHEDULE_H_
#define BERTH_SCHEDULER_CRON_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/cron/fields.h"

namespace date {
class time_zone;
}  // namespace date

namespace berth::cron {

class Schedule {
 public:
  // `spec`: "min hour dom month dow", "sec min hour dom month dow", a macro
  // (@hourly, @daily, ...) or "@every 1h30m". `tz`: an IANA zone name such
  // as "Europe/Berlin"; empty means "UTC". Returns InvalidArgument naming the
  // field and the reason, for an unknown zone, or for a spec that can never
  // fire.
  static absl::StatusOr<Schedule> Parse(std::string_view spec,
                                        std::string_view tz);

  // The first fire time strictly after `after`, or nullopt when there is none
  // before the year 9999. Fire times are whole seconds.
  std::optional<absl::Time> Next(absl::Time after) const;

  const std::string& spec() const { return spec_; }
  const std::string& time_zone() const { return tz_name_; }
  // True when the spec follows elapsed time across DST changes (its hour
  // field uses '*' or a step, or it is "@every"); false for fixed-hour specs,
  // which fire once per local time (see docs/cron.md).
  bool follows_elapsed_time() const {
    return is_every_ || fields_.elapsed_hours;
  }

 private:
  Schedule() = default;

  std::optional<int64_t> NextEvery(int64_t after_seconds) const;
  std::optional<int64_t> NextElapsed(int64_t first_candidate) const;
  std::optional<int64_t> NextFixed(int64_t first_candidate) const;

  std::string spec_;
  std::string tz_name_;
  const date::time_zone* zone_ = nullptr;  // borrowed from the tzdb
  bool is_every_ = false;
  int64_t every_seconds_ = 0;
  Fields fields_;
};

}  // namespace berth::cron

#endif  // BERTH_SCHEDULER_CRON_SCHEDULE_H_
