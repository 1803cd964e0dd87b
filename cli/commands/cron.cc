// berth cron next EXPR: the next fire times of a cron expression, computed
// by the same parser and next-fire code the scheduler's engine uses, so a
// user can check a schedule (and its DST behaviour) before submitting it.
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/output.h"
#include "scheduler/cron/fire_times.h"
#include "scheduler/cron/schedule.h"

namespace berth::cli {

namespace {

int Next(Context& ctx) {
  std::string tz = ctx.Has("timezone") ? ctx.Arg("timezone") : "UTC";
  // The job-spec validator reports the same messages (cron.schedule and
  // cron.timezone), so a spec that passes here passes there.
  absl::StatusOr<cron::Schedule> schedule =
      cron::Schedule::Parse(ctx.Arg("EXPR"), tz);
  if (!schedule.ok()) return ctx.UsageError(schedule.status());
  absl::Time from = absl::Now();
  if (ctx.Has("from")) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, ctx.Arg("from"), &from, &err)) {
      return ctx.UsageError(absl::InvalidArgumentError(absl::StrCat(
          "--from '", ctx.Arg("from"),
          "' is not an RFC 3339 time (e.g. 2026-03-29T00:00:00Z): ", err)));
    }
  }
  int count = ctx.args["count"].as<int>();
  absl::StatusOr<std::vector<cron::FireTime>> times =
      cron::NextFireTimes(*schedule, from, count);
  if (!times.ok()) return ctx.UsageError(times.status());
  if (ctx.json()) {
    std::vector<Json> items;
    for (const cron::FireTime& t : *times) items.push_back(JStr(t.rfc3339));
    absl::Status st = PrintJson(*ctx.out, JList(std::move(items)));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  std::vector<std::vector<std::string>> rows = {
      {"#", absl::StrCat("LOCAL (", schedule->time_zone(), ")"), "UTC",
       "NOTE"}};
  for (size_t i = 0; i < times->size(); ++i) {
    const cron::FireTime& t = (*times)[i];
    rows.push_back({absl::StrCat(i + 1), t.local, t.utc, t.note});
  }
  PrintTable(*ctx.out, rows);
  if (static_cast<int>(times->size()) < count) {
    *ctx.out << "(no further fire times before the year 9999)\n";
  }
  return kExitOk;
}

}  // namespace

void AddCronCommands(std::vector<Command>* table) {
  table->push_back({"cron next",
                    "print the next fire times of a cron expression",
                    {{"EXPR"}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()(
                          "timezone", po::value<std::string>(),
                          "IANA time zone, e.g. Europe/Berlin (default UTC)")(
                          "from", po::value<std::string>(),
                          "start after this RFC 3339 time (default now)")(
                          "count,n", po::value<int>()->default_value(5),
                          "how many fire times (1-10000)");
                    },
                    Next});
}

}  // namespace berth::cli
