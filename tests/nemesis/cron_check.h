// Cron checker: judges which ticks of a `*/1 * * * * *` job ran, from the
// lines the job's task appended (its allocation id, which ends in
// `.t<tick unix seconds>`, and its start time), with no knowledge of the
// scheduler's code. The job runs with `concurrency: allow` (no tick is
// skipped because an earlier run is still active) and `catch_up: all` with
// a `starting_deadline` D (docs/cron.md, "Catch-up, deadlines and missed
// ticks"), so:
//   - no tick runs twice, ever (violation);
//   - no run starts before its tick (violation);
//   - a tick T that did not run is excused only if no scheduler could have
//     claimed it while it was inside its deadline: all of [T, T+D] lies in
//     one outage window (merged fault windows, stretched by the recovery
//     margin the caller allows); otherwise it is a violation.
#ifndef BERTH_TESTS_NEMESIS_CRON_CHECK_H_
#define BERTH_TESTS_NEMESIS_CRON_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace berth::nemesis {

struct CronRun {
  int64_t tick = 0;  // unix seconds, from the allocation id
  absl::Time started;
  std::string alloc;
};

struct TimeWindow {
  absl::Time start;
  absl::Time end;
};

struct CronCheckInput {
  std::vector<CronRun> runs;
  // Ticks judged: from < T <= until (unix seconds).
  int64_t from = 0;
  int64_t until = 0;
  absl::Duration deadline;
  std::vector<TimeWindow> outages;
};

struct CronVerdict {
  int64_t ticks = 0;        // ticks judged
  int64_t ran = 0;          // judged ticks that ran (once or more)
  int64_t duplicated = 0;   // ticks that ran more than once (any tick)
  int64_t missed = 0;       // judged ticks that never ran
  int64_t excused = 0;      // of those, inside an outage for their deadline
  absl::Duration max_late;  // latest start after its tick
  std::vector<std::string> violations;
};

CronVerdict CheckCron(const CronCheckInput& in);

// Parses the task's lines, "<alloc id> <start unix nanoseconds>"; lines it
// cannot read are returned in `bad`.
std::vector<CronRun> ParseCronRuns(const std::string& text,
                                   std::vector<std::string>* bad);

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_CRON_CHECK_H_
