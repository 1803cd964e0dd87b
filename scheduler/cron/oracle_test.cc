// Brute-force oracle for Schedule::Next.
//
// Random specs are generated as structured terms, rendered to text for
// Schedule::Parse, and expanded into plain sets of allowed values by the
// oracle itself (it never looks at the parser's bitsets). The oracle then
// walks local civil time second by second (skipping whole days, hours and
// minutes that do not match), resolves each matching local time to instants
// straight from the definition in docs/cron.md, and the sorted result must
// equal what chained and probed Next() calls return.
//
// Knobs: BERTH_CRON_ORACLE_SPECS (default 3000), BERTH_CRON_ORACLE_SEED.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "date/tz.h"
#include "gtest/gtest.h"
#include "scheduler/cron/schedule.h"

namespace berth::cron {
namespace {

constexpr int64_t kDay = 86400;

struct GenField {
  std::string text;
  std::vector<bool> allowed;  // indexed by value (dow: 0-6)
  bool star = false;          // written as a bare '*' or '?'
  bool last = false;          // contains 'L'
};

struct GenSpec {
  std::string text;
  bool six_fields = false;
  GenField sec, min, hour, dom, mon, dow;
  bool elapsed = false;  // hour field uses '*' or '/'
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  bool Coin(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::mt19937_64& rng() { return rng_; }

  GenSpec Spec() {
    GenSpec s;
    s.six_fields = Coin(0.2);
    // Values are drawn near the DST-sensitive hours and common minutes, so
    // that many specs actually touch the transitions.
    if (s.six_fields) s.sec = Field(0, 59, 59, 0.15, {}, false, false, 0);
    s.min = Field(0, 59, 59, 0.15, {}, false, false, 0);
    s.hour = Field(0, 23, 23, 0.3, {}, false, false, 3);
    s.dom = Field(1, 31, 31, 0.6, {}, true, true, 0);
    s.mon = Field(1, 12, 12, 0.7,
                  {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                   "SEP", "OCT", "NOV", "DEC"},
                  false, false, 0);
    s.dow =
        Field(0, 7, 6, 0.6, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"},
              false, true, 0);
    if (Coin(0.03)) {
      // Days that some or all selected months lack: exercises the
      // never-fires check and the month-skipping search.
      s.dom = GenField{Coin(0.5) ? "30,31" : "31", std::vector<bool>(32), false,
                       false};
      s.dom.allowed[31] = true;
      if (s.dom.text == "30,31") s.dom.allowed[30] = true;
      s.mon = GenField{Coin(0.5) ? "2" : "4,6,9,11", std::vector<bool>(13),
                       false, false};
      for (int m : {2, 4, 6, 9, 11}) {
        if (s.mon.text.find(std::to_string(m)) != std::string::npos) {
          s.mon.allowed[m] = true;
        }
      }
      if (Coin(0.3)) s.mon.text += ",12", s.mon.allowed[12] = true;
      s.dow = GenField{"*", std::vector<bool>(7, true), true, false};
    }
    s.elapsed = s.hour.text.find_first_of("*/") != std::string::npos;
    std::vector<std::string> words;
    if (s.six_fields) words.push_back(s.sec.text);
    for (const GenField* f : {&s.min, &s.hour, &s.dom, &s.mon, &s.dow}) {
      words.push_back(f->text);
    }
    s.text = absl::StrJoin(words, " ");
    return s;
  }

 private:
  // `min`-`max` are the writable values, `star_max` the top of '*' and of
  // "a/n". `low_bias` > 0 draws single values from 0..low_bias half the time.
  GenField Field(int min, int max, int star_max, double p_star,
                 const std::vector<std::string>& names, bool allow_last,
                 bool allow_question, int low_bias) {
    GenField f;
    f.allowed.assign(star_max + 1, false);
    auto add = [&](int lo, int hi, int step) {
      // Only day-of-week folds 7 (Sunday) onto 0.
      for (int v = lo; v <= hi; v += step) {
        f.allowed[(max == 7 && v == 7) ? 0 : v] = true;
      }
    };
    auto value_text = [&](int v) {
      int idx = v - min;
      if (!names.empty() && v <= star_max && Coin(0.3)) return names[idx];
      return std::to_string(v);
    };
    auto pick = [&]() {
      if (low_bias > 0 && Coin(0.5)) return Uniform(0, low_bias);
      return Uniform(min, max);
    };
    if (Coin(p_star)) {
      f.star = true;
      f.text = (allow_question && Coin(0.3)) ? "?" : "*";
      add(min, star_max, 1);
      return f;
    }
    int terms = Coin(0.6) ? 1 : Uniform(2, 3);
    std::vector<std::string> parts;
    for (int i = 0; i < terms; ++i) {
      int kind = Uniform(0, allow_last ? 5 : 4);
      int max_step = star_max - min;
      if (kind == 0 || kind == 1) {  // single value
        int v = pick();
        parts.push_back(value_text(v));
        add(v, v, 1);
      } else if (kind == 2) {  // range
        int a = pick();
        int b = Uniform(a, max);
        parts.push_back(value_text(a) + "-" + value_text(b));
        add(a, b, 1);
      } else if (kind == 3) {  // */n or a-b/n
        int n = Uniform(1, std::min(max_step, 12));
        if (Coin(0.5)) {
          parts.push_back("*/" + std::to_string(n));
          add(min, star_max, n);
        } else {
          int a = Uniform(min, star_max);
          int b = Uniform(a, star_max);
          parts.push_back(std::to_string(a) + "-" + std::to_string(b) + "/" +
                          std::to_string(n));
          add(a, b, n);
        }
      } else if (kind == 4) {  // a/n
        int n = Uniform(1, std::min(max_step, 12));
        int a = Uniform(min, star_max);
        parts.push_back(std::to_string(a) + "/" + std::to_string(n));
        add(a, star_max, n);
      } else {  // L
        parts.push_back("L");
        f.last = true;
      }
    }
    f.text = absl::StrJoin(parts, ",");
    return f;
  }

  std::mt19937_64 rng_;
};

// The oracle's own reading of the calendar rules.
bool DayMatches(const GenSpec& s, const date::year_month_day& ymd) {
  unsigned m = static_cast<unsigned>(ymd.month());
  unsigned d = static_cast<unsigned>(ymd.day());
  if (!s.mon.allowed[m]) return false;
  unsigned last_day = static_cast<unsigned>(
      date::year_month_day_last(ymd.year(), date::month_day_last(ymd.month()))
          .day());
  bool dom_ok = s.dom.allowed[d] || (s.dom.last && d == last_day);
  bool dow_ok = s.dow.allowed[date::weekday(date::sys_days(ymd)).c_encoding()];
  if (s.dom.star && s.dow.star) return true;
  if (s.dom.star) return dow_ok;
  if (s.dow.star) return dom_ok;
  return dom_ok || dow_ok;
}

bool EverFires(const GenSpec& s) {
  for (date::sys_days d = date::sys_days(date::year{2000} / 1 / 1);
       d < date::sys_days(date::year{2400} / 1 / 1); d += date::days{1}) {
    if (DayMatches(s, date::year_month_day(d))) return true;
  }
  return false;
}

struct Expected {
  std::vector<int64_t> fires;  // sorted, unique, all > from
  int64_t complete_until;      // every fire in (from, complete_until] listed
};

// Lists fire instants in (from, ~from + span] by walking local time.
Expected Enumerate(const GenSpec& s, const date::time_zone* zone, int64_t from,
                   int64_t span, size_t max_local_matches) {
  const int seconds_top = s.six_fields ? 59 : 0;
  // The zone's offsets around the window bound which local times can map
  // to instants inside it.
  int64_t off_lo = INT64_MAX;
  int64_t off_hi = INT64_MIN;
  for (int64_t t = from - 2 * kDay; t <= from + span + 2 * kDay;) {
    date::sys_info info =
        zone->get_info(date::sys_seconds{std::chrono::seconds{t}});
    off_lo = std::min<int64_t>(off_lo, info.offset.count());
    off_hi = std::max<int64_t>(off_hi, info.offset.count());
    t = info.end.time_since_epoch().count();
  }
  // A local time L maps to an instant in (L - off_hi, L - off_lo], and a
  // skipped one to the end of its gap, which lies in the same range.
  int64_t local_begin = from + off_lo;
  int64_t local_end = from + span + off_lo;
  int64_t stop_local = local_end;
  std::vector<int64_t> fires;
  size_t matches = 0;
  for (int64_t day = local_begin / kDay; day * kDay <= local_end; ++day) {
    date::year_month_day ymd{date::sys_days{date::days{day}}};
    if (!DayMatches(s, ymd)) continue;
    for (int h = 0; h < 24; ++h) {
      if (!s.hour.allowed[h]) continue;
      for (int mi = 0; mi < 60; ++mi) {
        if (!s.min.allowed[mi]) continue;
        for (int sec = 0; sec <= seconds_top; ++sec) {
          if (s.six_fields && !s.sec.allowed[sec]) continue;
          int64_t local = day * kDay + h * 3600 + mi * 60 + sec;
          if (local < local_begin || local > local_end) continue;
          date::local_info li =
              zone->get_info(date::local_seconds{std::chrono::seconds{local}});
          if (s.elapsed) {
            // Every real instant showing this local time fires.
            if (li.result != date::local_info::nonexistent) {
              fires.push_back(local - li.first.offset.count());
            }
            if (li.result == date::local_info::ambiguous) {
              fires.push_back(local - li.second.offset.count());
            }
          } else if (li.result == date::local_info::nonexistent) {
            fires.push_back(li.second.begin.time_since_epoch().count());
          } else {
            fires.push_back(local - li.first.offset.count());
          }
          if (++matches >= max_local_matches) {
            stop_local = local;
            goto done;
          }
        }
      }
    }
  }
done:
  std::sort(fires.begin(), fires.end());
  fires.erase(std::unique(fires.begin(), fires.end()), fires.end());
  Expected e;
  // Local times after stop_local map to instants after this.
  e.complete_until = stop_local - off_hi;
  for (int64_t f : fires) {
    if (f > from && f <= e.complete_until) e.fires.push_back(f);
  }
  return e;
}

std::string Show(int64_t t, const date::time_zone* zone) {
  date::zoned_seconds z(zone, date::sys_seconds{std::chrono::seconds{t}});
  return date::format("%F %T %Z", z) + " (" + std::to_string(t) + ")";
}

int64_t EnvOr(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::atoll(v) : fallback;
}

std::vector<int64_t> Transitions(const date::time_zone* zone) {
  std::vector<int64_t> out;
  int64_t t = date::sys_seconds(date::sys_days(date::year{2000} / 1 / 1))
                  .time_since_epoch()
                  .count();
  int64_t end = date::sys_seconds(date::sys_days(date::year{2037} / 1 / 1))
                    .time_since_epoch()
                    .count();
  while (t < end) {
    date::sys_info info =
        zone->get_info(date::sys_seconds{std::chrono::seconds{t}});
    t = info.end.time_since_epoch().count();
    if (t < end) out.push_back(t);
  }
  return out;
}

TEST(CronOracleTest, FastNextMatchesBruteForce) {
  const int64_t num_specs = EnvOr("BERTH_CRON_ORACLE_SPECS", 3000);
  const uint64_t seed =
      static_cast<uint64_t>(EnvOr("BERTH_CRON_ORACLE_SEED", 20240331));
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  const char* zone_names[] = {"UTC",
                              "Europe/Berlin",
                              "America/New_York",
                              "Australia/Lord_Howe",
                              "Pacific/Apia",
                              "America/Havana",
                              "Asia/Kolkata",
                              "America/St_Johns",
                              "Pacific/Chatham",
                              "Australia/Sydney",
                              "Asia/Tehran",
                              "Europe/London"};
  struct Zone {
    std::string name;
    const date::time_zone* tz;
    std::vector<int64_t> transitions;
  };
  std::vector<Zone> zones;
  for (const char* name : zone_names) {
    const date::time_zone* tz = date::locate_zone(name);
    zones.push_back({name, tz, Transitions(tz)});
  }

  Generator gen(seed);
  int compared_fires = 0;
  int probes = 0;
  int never_fire = 0;
  int failures = 0;
  for (int64_t i = 0; i < num_specs && failures < 5; ++i) {
    GenSpec spec = gen.Spec();
    const Zone& zone = zones[gen.Uniform(0, zones.size() - 1)];
    SCOPED_TRACE(
        absl::StrCat("spec #", i, " '", spec.text, "' in ", zone.name));
    absl::StatusOr<Schedule> schedule = Schedule::Parse(spec.text, zone.name);
    if (!schedule.ok()) {
      ++never_fire;
      EXPECT_FALSE(EverFires(spec)) << schedule.status();
      EXPECT_NE(schedule.status().message().find("never fires"),
                std::string::npos)
          << schedule.status();
      continue;
    }
    ASSERT_EQ(schedule->follows_elapsed_time(), spec.elapsed);

    // Start shortly before a transition (or anywhere, for fixed zones).
    int64_t anchor;
    if (!zone.transitions.empty() && gen.Coin(0.9)) {
      anchor = zone.transitions[gen.Uniform(0, zone.transitions.size() - 1)];
    } else {
      anchor = 946684800 + int64_t{gen.Uniform(0, 36 * 365)} * kDay;
    }
    int64_t back = spec.six_fields ? gen.Uniform(0, 3600)
                   : gen.Coin(0.6) ? gen.Uniform(0, 6 * 3600)
                                   : gen.Uniform(0, 60 * 86400);
    int64_t from = anchor - back;
    Expected want = Enumerate(spec, zone.tz, from, 400 * kDay,
                              spec.six_fields ? 8000 : 1500);

    // Chained: Next(fire_k) must be fire_{k+1}.
    int64_t t = from;
    size_t k = 0;
    while (true) {
      std::optional<absl::Time> next = schedule->Next(absl::FromUnixSeconds(t));
      ASSERT_TRUE(next.has_value()) << "Next(" << Show(t, zone.tz) << ")";
      int64_t got = absl::ToUnixSeconds(*next);
      if (got > want.complete_until) break;
      if (k >= want.fires.size() || got != want.fires[k]) {
        ++failures;
        ADD_FAILURE() << "Next(" << Show(t, zone.tz)
                      << ") = " << Show(got, zone.tz) << ", oracle says "
                      << (k < want.fires.size() ? Show(want.fires[k], zone.tz)
                                                : "nothing");
        break;
      }
      ++k;
      ++compared_fires;
      t = got;
    }
    if (k < want.fires.size() && failures == 0) {
      ++failures;
      ADD_FAILURE() << "Next skipped oracle fire "
                    << Show(want.fires[k], zone.tz);
    }

    // Probes from arbitrary points, including sub-second ones and the
    // seconds around the transition.
    std::vector<absl::Time> afters;
    for (int j = 0; j < 8 && want.complete_until - from > 2; ++j) {
      int64_t a = std::uniform_int_distribution<int64_t>(
          from, want.complete_until - 2)(gen.rng());
      afters.push_back(absl::FromUnixSeconds(a));
      afters.push_back(absl::FromUnixSeconds(a) + absl::Milliseconds(500));
    }
    for (int64_t d : {-3601, -1, 0, 1, 1799, 3599}) {
      if (anchor + d > from && anchor + d < want.complete_until) {
        afters.push_back(absl::FromUnixSeconds(anchor + d));
      }
    }
    for (absl::Time a : afters) {
      auto it = std::upper_bound(want.fires.begin(), want.fires.end(),
                                 absl::ToUnixSeconds(a));
      std::optional<absl::Time> next = schedule->Next(a);
      ASSERT_TRUE(next.has_value());
      int64_t got = absl::ToUnixSeconds(*next);
      ++probes;
      if (it != want.fires.end()) {
        EXPECT_EQ(got, *it)
            << "probe after " << absl::FormatTime(a) << ": got "
            << Show(got, zone.tz) << ", oracle " << Show(*it, zone.tz);
      } else {
        EXPECT_GT(got, want.complete_until)
            << "probe after " << absl::FormatTime(a);
      }
    }
  }
  // The sweep must have exercised real comparisons, not vacuous ones.
  EXPECT_GT(compared_fires, num_specs * 10);
  EXPECT_GT(probes, num_specs * 10);
  std::cout << "oracle: " << num_specs << " specs, " << compared_fires
            << " chained fires, " << probes << " probes, " << never_fire
            << " never-firing specs rejected\n";
}

}  // namespace
}  // namespace berth::cron
