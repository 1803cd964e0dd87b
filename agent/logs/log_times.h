// Time marks for `berth job logs --since`: which logical offset of a stream
// was written when (layout of the other files in log_files.h).
//
// <dir>/<stream>.log.times holds text lines "<logical offset> <unix ms>".
// The writer adds a line before a write when its last line is at least
// kLogMarkEvery old, so the bytes from one mark's offset up to the next
// mark's were all written within kLogMarkEvery after the mark's time. A
// reader asking for the output since time T therefore starts at the first
// mark newer than T - kLogMarkEvery: it may show up to that much older
// output, never miss newer output. Marks of rotated-away data are trimmed
// at rotation once the file passes kLogTimesTrimBytes.
//
// Thread safety: a LogTimesWriter belongs to one RotatingFile; readers only
// read the file (a partly written last line is ignored).
#ifndef BERTH_AGENT_LOGS_LOG_TIMES_H_
#define BERTH_AGENT_LOGS_LOG_TIMES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/logs/log_files.h"
#include "agent/runtime/proc.h"

namespace berth::agent {

inline constexpr absl::Duration kLogMarkEvery = absl::Seconds(1);
inline constexpr uint64_t kLogTimesTrimBytes = 64 << 10;

// <dir>/<stream>.log.times
std::string LogTimesPath(const std::string& dir, LogStream stream);

class LogTimesWriter {
 public:
  // Opens the marks file for appending (creating it).
  static absl::StatusOr<std::unique_ptr<LogTimesWriter>> Open(
      const std::string& dir, LogStream stream);

  // Output starting at logical `offset` is about to be written at `now`.
  absl::Status Note(uint64_t offset, absl::Time now);
  // Drops the marks of data below logical offset `floor` (rotated away)
  // when the file is larger than kLogTimesTrimBytes.
  absl::Status Trim(uint64_t floor);

 private:
  LogTimesWriter(std::string path, Fd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}
  const std::string path_;
  Fd fd_;
  absl::Time last_ = absl::InfinitePast();
};

// The logical offset to start from for the output written at or after
// `since` (see above); `end` when nothing was. 0 when the stream has no
// marks file (output from before marks existed is all shown).
absl::StatusOr<uint64_t> LogOffsetSince(const std::string& dir,
                                        LogStream stream, absl::Time since,
                                        uint64_t end);

}  // namespace berth::agent

#endif  // BERTH_AGENT_LOGS_LOG_TIMES_H_
