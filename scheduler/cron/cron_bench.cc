// Microbenchmarks for Schedule::Next: the scheduler calls it once per cron
// job whenever a job fires, for up to ~100,000 jobs.
#include <vector>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "scheduler/cron/schedule.h"

namespace berth::cron {
namespace {

void BM_Next(benchmark::State& state, const char* spec, const char* tz) {
  absl::StatusOr<Schedule> s = Schedule::Parse(spec, tz);
  if (!s.ok()) {
    state.SkipWithError(std::string(s.status().message()).c_str());
    return;
  }
  absl::Time t = absl::FromUnixSeconds(1'700'000'000);
  for (auto _ : state) {
    std::optional<absl::Time> next = s->Next(t);
    benchmark::DoNotOptimize(next);
    t = next.value_or(absl::FromUnixSeconds(1'700'000'000));
  }
}

BENCHMARK_CAPTURE(BM_Next, every_minute_utc, "* * * * *", "UTC");
BENCHMARK_CAPTURE(BM_Next, quarter_hour_berlin, "*/15 * * * *",
                  "Europe/Berlin");
BENCHMARK_CAPTURE(BM_Next, daily_0230_berlin, "30 2 * * *", "Europe/Berlin");
BENCHMARK_CAPTURE(BM_Next, weekdays_ny, "0 9 * * MON-FRI", "America/New_York");
BENCHMARK_CAPTURE(BM_Next, friday_13th_or, "0 0 13 * FRI", "UTC");
BENCHMARK_CAPTURE(BM_Next, leap_day, "0 0 29 2 *", "Europe/Berlin");
BENCHMARK_CAPTURE(BM_Next, seconds_field, "*/10 * * * * *",
                  "Australia/Lord_Howe");

void BM_Parse(benchmark::State& state) {
  for (auto _ : state) {
    auto s =
        Schedule::Parse("0 9-17/2 1,15,L JAN-JUN MON-FRI", "Europe/Berlin");
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_Parse);

}  // namespace
}  // namespace berth::cron
