#include "tests/nemesis/cron_check.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::nemesis {

namespace {

// Sorted, overlapping or touching windows joined.
std::vector<TimeWindow> Merge(std::vector<TimeWindow> w) {
  std::sort(w.begin(), w.end(), [](const TimeWindow& a, const TimeWindow& b) {
    return a.start < b.start;
  });
  std::vector<TimeWindow> out;
  for (const TimeWindow& x : w) {
    if (!out.empty() && x.start <= out.back().end) {
      out.back().end = std::max(out.back().end, x.end);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

bool Covered(const std::vector<TimeWindow>& merged, absl::Time a,
             absl::Time b) {
  for (const TimeWindow& w : merged) {
    if (w.start <= a && b <= w.end) return true;
  }
  return false;
}

}  // namespace

std::vector<CronRun> ParseCronRuns(const std::string& text,
                                   std::vector<std::string>* bad) {
  std::vector<CronRun> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    size_t t = f.size() == 2 ? f[0].rfind(".t") : absl::string_view::npos;
    CronRun r;
    int64_t ns = 0;
    if (t == absl::string_view::npos ||
        !absl::SimpleAtoi(f[0].substr(t + 2), &r.tick) ||
        !absl::SimpleAtoi(f[1], &ns)) {
      bad->emplace_back(line);
      continue;
    }
    r.alloc = std::string(f[0]);
    r.started = absl::FromUnixNanos(ns);
    out.push_back(std::move(r));
  }
  return out;
}

CronVerdict CheckCron(const CronCheckInput& in) {
  CronVerdict v;
  std::map<int64_t, std::vector<const CronRun*>> by_tick;
  for (const CronRun& r : in.runs) by_tick[r.tick].push_back(&r);
  for (const auto& [tick, runs] : by_tick) {
    if (runs.size() > 1) {
      ++v.duplicated;
      v.violations.push_back(absl::StrCat("tick ", tick, " ran ", runs.size(),
                                          " times (", runs[0]->alloc, ")"));
    }
    for (const CronRun* r : runs) {
      absl::Duration late = r->started - absl::FromUnixSeconds(tick);
      if (late < absl::ZeroDuration()) {
        v.violations.push_back(absl::StrCat(r->alloc, " started ",
                                            absl::FormatDuration(-late),
                                            " before its tick"));
      }
      v.max_late = std::max(v.max_late, late);
    }
  }
  const std::vector<TimeWindow> merged = Merge(in.outages);
  for (int64_t t = in.from + 1; t <= in.until; ++t) {
    ++v.ticks;
    if (by_tick.contains(t)) {
      ++v.ran;
      continue;
    }
    ++v.missed;
    absl::Time at = absl::FromUnixSeconds(t);
    if (Covered(merged, at, at + in.deadline)) {
      ++v.excused;
    } else {
      v.violations.push_back(absl::StrCat(
          "tick ", t, " (",
          absl::FormatTime("%H:%M:%S", at, absl::UTCTimeZone()),
          ") never ran, though a scheduler could lead within its deadline"));
    }
  }
  return v;
}

}  // namespace berth::nemesis
