#include "scheduler/cron/fields.h"

#include <bit>

#include "date/date.h"

namespace berth::cron {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

// Index of the lowest set bit of `mask` at or above `from`, or -1.
int NextBit(uint64_t mask, int from) {
  if (from >= 64) return -1;
  uint64_t rest = mask >> from;
  if (rest == 0) return -1;
  return from + std::countr_zero(rest);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

unsigned DaysInMonth(int year, unsigned month) {
  return static_cast<unsigned>(
      date::year_month_day_last(date::year{year},
                                date::month_day_last(date::month{month}))
          .day());
}

}  // namespace

void Fields::Finish() {
  for (unsigned first = 0; first < 7; ++first) {
    uint32_t mask = 0;
    for (unsigned d = 1; d <= 31; ++d) {
      if (dow & (1u << ((first + d - 1) % 7))) mask |= 1u << d;
    }
    dow_by_first_weekday[first] = mask;
  }
}

uint32_t Fields::DayMask(int year, unsigned month) const {
  unsigned dim = DaysInMonth(year, month);
  uint32_t in_month = ((1u << dim) - 1) << 1;  // bits 1..dim
  uint32_t by_dom = dom & in_month;
  if (dom_last) by_dom |= 1u << dim;
  unsigned first =
      date::weekday(date::sys_days(date::year{year} / date::month{month} / 1))
          .c_encoding();
  uint32_t by_dow = dow_by_first_weekday[first] & in_month;
  if (dom_star && dow_star) return in_month;
  if (dom_star) return by_dow;
  if (dow_star) return by_dom;
  return by_dom | by_dow;
}

bool Fields::EverFires() const {
  if (seconds == 0 || minutes == 0 || hours == 0) return false;
  for (int year = 2000; year < 2400; ++year) {
    for (unsigned month = 1; month <= 12; ++month) {
      if ((months & (1u << month)) && DayMask(year, month) != 0) return true;
    }
  }
  return false;
}

std::optional<int64_t> Fields::NextLocalMatch(int64_t start,
                                              int last_year) const {
  int64_t day_number = FloorDiv(start, kSecondsPerDay);
  int64_t second_of_day = start - day_number * kSecondsPerDay;
  date::year_month_day ymd{date::sys_days{date::days{day_number}}};
  int year = static_cast<int>(ymd.year());
  int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  int day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  int hour = static_cast<int>(second_of_day / 3600);
  int minute = static_cast<int>(second_of_day / 60 % 60);
  int second = static_cast<int>(second_of_day % 60);

  // Each step either accepts the current value of a field or jumps it to the
  // next selected value, resetting the smaller fields; running off the end
  // of a field carries into the next larger one.
  while (year <= last_year) {
    int next_month = NextBit(months, month);
    if (next_month < 0) {
      ++year;
      month = day = 1;
      hour = minute = second = 0;
      continue;
    }
    if (next_month != month) {
      month = next_month;
      day = 1;
      hour = minute = second = 0;
    }
    int next_day = NextBit(DayMask(year, month), day);
    if (next_day < 0) {
      ++month;
      day = 1;
      hour = minute = second = 0;
      continue;
    }
    if (next_day != day) {
      day = next_day;
      hour = minute = second = 0;
    }
    int next_hour = NextBit(hours, hour);
    if (next_hour < 0) {
      ++day;
      hour = minute = second = 0;
      continue;
    }
    if (next_hour != hour) {
      hour = next_hour;
      minute = second = 0;
    }
    int next_minute = NextBit(minutes, minute);
    if (next_minute < 0) {
      ++hour;
      minute = second = 0;
      continue;
    }
    if (next_minute != minute) {
      minute = next_minute;
      second = 0;
    }
    int next_second = NextBit(seconds, second);
    if (next_second < 0) {
      ++minute;
      second = 0;
      continue;
    }
    int64_t days = date::sys_days(date::year{year} /
                                  date::month{static_cast<unsigned>(month)} /
                                  date::day{static_cast<unsigned>(day)})
                       .time_since_epoch()
                       .count();
    return days * kSecondsPerDay + hour * 3600 + minute * 60 + next_second;
  }
  return std::nullopt;
}

}  // namespace berth::cron
