// Parser for cron expression text (see docs/cron.md for the grammar).
//
// Internal to scheduler/cron; callers use Schedule::Parse in schedule.h.
// Pure functions, safe from any thread.
#ifndef BERTH_SCHEDULER_CRON_PARSER_H_
#define BERTH_SCHEDULER_CRON_PARSER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "scheduler/cron/fields.h"

namespace berth::cron {

// Exactly one of the two forms is set.
struct ParsedSpec {
  bool is_every = false;
  Fields fields;              // when !is_every
  int64_t every_seconds = 0;  // when is_every: "@every <duration>"
};

// Parses a 5- or 6-field expression or a macro. Rejects specs that can never
// fire. Errors are InvalidArgument and name the field and the reason.
absl::StatusOr<ParsedSpec> ParseSpec(std::string_view spec);

// Parses the duration of "@every": one or more <digits><unit> groups with
// units h, m, s in that order, each at most once ("90s", "5m", "1h30m").
absl::StatusOr<int64_t> ParseEveryDuration(std::string_view text);

}  // namespace berth::cron

#endif  // BERTH_SCHEDULER_CRON_PARSER_H_
