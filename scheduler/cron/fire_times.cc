#include "scheduler/cron/fire_times.h"

#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "date/date.h"
#include "date/tz.h"
#include "scheduler/cron/parser.h"

namespace berth::cron {
namespace {

using std::chrono::seconds;

std::string FormatLocal(const date::time_zone* zone, int64_t unix_seconds) {
  date::zoned_seconds z(zone, date::sys_seconds{seconds{unix_seconds}});
  return date::format("%F %T %Z", z);
}

std::string FormatRfc3339(const date::time_zone* zone, int64_t unix_seconds) {
  date::zoned_seconds z(zone, date::sys_seconds{seconds{unix_seconds}});
  return date::format("%FT%T%Ez", z);
}

std::string FormatUtc(int64_t unix_seconds) {
  return date::format("%FT%TZ", date::sys_seconds{seconds{unix_seconds}});
}

std::string FormatClock(int64_t local_seconds) {
  return date::format("%F %T", date::local_seconds{seconds{local_seconds}});
}

// Explains one fire time. `fields` is null for specs that follow elapsed
// time ("@every", '*' or step hours): they fire at the local times they
// match, so only ambiguity needs saying.
void Explain(const date::time_zone* zone, const Fields* fields, FireTime* out) {
  int64_t t = absl::ToUnixSeconds(out->instant);
  date::sys_info info = zone->get_info(date::sys_seconds{seconds{t}});
  int64_t local = t + info.offset.count();
  date::local_info li = zone->get_info(date::local_seconds{seconds{local}});
  if (li.result == date::local_info::ambiguous) {
    bool first = t == local - li.first.offset.count();
    out->dst = first ? FireTime::Dst::kAmbiguousFirst
                     : FireTime::Dst::kAmbiguousSecond;
    out->note = absl::StrCat(FormatClock(local),
                             " occurs twice (DST ends); this is the ",
                             first ? "first" : "second", " occurrence (",
                             li.first.abbrev, " then ", li.second.abbrev, ")");
    return;
  }
  if (fields == nullptr) return;
  int year = static_cast<int>(date::year_month_day{
      date::floor<date::days>(date::local_seconds{
          seconds{local}})}.year());
  std::optional<int64_t> match = fields->NextLocalMatch(local, year);
  if (match.has_value() && *match == local) return;
  // The local reading does not match the spec: the engine moved a skipped
  // local time here, to the end of a spring-forward gap.
  int64_t begin = info.begin.time_since_epoch().count();
  date::sys_info prev = zone->get_info(date::sys_seconds{seconds{begin - 1}});
  int64_t gap_start = begin + prev.offset.count();
  std::optional<int64_t> skipped = fields->NextLocalMatch(gap_start, year);
  out->dst = FireTime::Dst::kMovedByGap;
  std::string from_clock = FormatClock(gap_start);
  std::string to_clock = FormatClock(local);
  if (from_clock.substr(0, 10) == to_clock.substr(0, 10)) {
    from_clock = from_clock.substr(11);
    to_clock = to_clock.substr(11);
  }
  out->note = absl::StrCat(
      skipped.has_value() && *skipped < local ? FormatClock(*skipped)
                                              : std::string("the local time"),
      " does not exist (DST gap: clocks jump from ", from_clock, " to ",
      to_clock, "); fires once, at the end of the gap");
}

}  // namespace

absl::StatusOr<std::vector<FireTime>> NextFireTimes(const Schedule& schedule,
                                                    absl::Time from,
                                                    int count) {
  if (count < 1 || count > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("count must be between 1 and 10000, got ", count));
  }
  const date::time_zone* zone = date::locate_zone(schedule.time_zone());
  // The schedule already parsed this spec, so this cannot fail; it only
  // recovers the fields that Schedule keeps private.
  absl::StatusOr<ParsedSpec> parsed = ParseSpec(schedule.spec());
  if (!parsed.ok()) return parsed.status();
  // Elapsed-time specs fire at the local times they match, so only
  // fixed-hour specs can be moved by a gap.
  const Fields* fields = parsed->is_every || parsed->fields.elapsed_hours
                             ? nullptr
                             : &parsed->fields;
  std::vector<FireTime> out;
  absl::Time after = from;
  while (static_cast<int>(out.size()) < count) {
    std::optional<absl::Time> next = schedule.Next(after);
    if (!next.has_value()) break;
    int64_t t = absl::ToUnixSeconds(*next);
    FireTime f;
    f.instant = *next;
    f.local = FormatLocal(zone, t);
    f.rfc3339 = FormatRfc3339(zone, t);
    f.utc = FormatUtc(t);
    Explain(zone, fields, &f);
    out.push_back(std::move(f));
    after = *next;
  }
  return out;
}

}  // namespace berth::cron
