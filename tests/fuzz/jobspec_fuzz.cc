// Job-spec YAML parser: any bytes either parse into jobs or fail with a
// status; nothing may crash, throw out of the parser or hang.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scheduler/spec/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<berth::jobpb::Job>> jobs =
      berth::sched::ParseJobSpecs(yaml, "fuzz.yaml");
  if (jobs.ok()) {
    for (const berth::jobpb::Job& j : *jobs) {
      if (j.name().empty()) std::abort();  // a parsed job always has a name
    }
  } else if (jobs.status().message().empty()) {
    std::abort();  // every error says what is wrong
  }
  return 0;
}
