// The deterministic workload shared by storage_crash_writer and
// sqlite_kill_test: the payload of every entry is a function of its index
// and term, so a checker can verify content without a record of the writes.
#ifndef BERTH_LOCKSERVICE_STORAGE_CRASH_WORKLOAD_H_
#define BERTH_LOCKSERVICE_STORAGE_CRASH_WORKLOAD_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace berth::storage {

inline std::string CrashWorkloadData(uint64_t index, uint64_t term) {
  std::string s = absl::StrCat("entry-", index, "-term-", term, "-");
  // Sizes vary from a few bytes to a few pages.
  s.resize(s.size() + (index * 37) % 400 + (index % 23 == 0 ? 9000 : 0),
           static_cast<char>('a' + index % 26));
  return s;
}

// One line per acknowledged Save on the writer's stdout:
//   acked <last_index> <last_term> <hs_term> <hs_vote> <hs_commit>
inline constexpr char kAckedFormat[] = "acked %lu %lu %lu %lu %lu\n";

}  // namespace berth::storage

#endif  // BERTH_LOCKSERVICE_STORAGE_CRASH_WORKLOAD_H_
