// Fields: the parsed, time-zone-free form of a cron expression, and the
// calendar search over local civil time that Schedule builds on.
//
// Internal to scheduler/cron; callers use schedule.h.
//
// A "local second" is a count of seconds since 1970-01-01 00:00:00 in local
// civil time, as if the zone were UTC. It says nothing about DST; schedule.cc
// maps local seconds to instants.
//
// Thread safety: immutable after parsing; safe to share across threads.
#ifndef BERTH_SCHEDULER_CRON_FIELDS_H_
#define BERTH_SCHEDULER_CRON_FIELDS_H_

#include <array>
#include <cstdint>
#include <optional>

namespace berth::cron {

struct Fields {
  // Bit i set means value i is selected.
  uint64_t seconds = 0;   // 0-59
  uint64_t minutes = 0;   // 0-59
  uint32_t hours = 0;     // 0-23
  uint32_t dom = 0;       // 1-31
  bool dom_last = false;  // 'L': the last day of the month
  uint32_t months = 0;    // 1-12
  uint32_t dow = 0;       // 0-6, Sunday = 0
  // True when the field was written as a bare '*' or '?'. Decides the Vixie
  // day rule: only when both are restricted does a match on either fire.
  bool dom_star = false;
  bool dow_star = false;
  // True when the hour field uses '*' or a step: the spec then follows
  // elapsed time across DST changes instead of the fixed-time rule.
  bool elapsed_hours = false;

  // Derived by Finish(): for each weekday of the 1st of a month (0-6), the
  // days 1-31 whose weekday is selected.
  std::array<uint32_t, 7> dow_by_first_weekday{};

  // Computes derived tables; call once after the bitsets are final.
  void Finish();

  // Days (bits 1-31) of the given month that fire, by the Vixie rule.
  uint32_t DayMask(int year, unsigned month) const;

  // Whether any day of a full 400-year Gregorian cycle fires. The calendar
  // (leap years and weekdays) repeats every 400 years, so false means never.
  bool EverFires() const;

  // The first local second >= start that matches every field, searching
  // through local year `last_year` at most.
  std::optional<int64_t> NextLocalMatch(int64_t start, int last_year) const;
};

}  // namespace berth::cron

#endif  // BERTH_SCHEDULER_CRON_FIELDS_H_
