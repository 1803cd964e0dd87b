// Cron schedule parser: any text and any zone name either parse or fail
// with InvalidArgument; a parsed schedule's next fire times strictly
// increase. Input: "<zone>\n<spec>" (no newline: the whole input is the
// spec, in UTC).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "absl/time/time.h"
#include "scheduler/cron/schedule.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view tz, spec = in;
  if (size_t nl = in.find('\n'); nl != std::string_view::npos) {
    tz = in.substr(0, nl);
    spec = in.substr(nl + 1);
  }
  absl::StatusOr<berth::cron::Schedule> s =
      berth::cron::Schedule::Parse(spec, tz);
  if (!s.ok()) {
    if (s.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  absl::Time t = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i < 8; ++i) {
    std::optional<absl::Time> next = s->Next(t);
    if (!next.has_value()) break;
    if (*next <= t) std::abort();  // fire times must move forward
    t = *next;
  }
  return 0;
}
