// RotatingFile: appends one stream of an allocation's output to
// <dir>/<stream>.log, rotating at exactly LogLimits::max_bytes (see
// log_files.h for the layout readers rely on).
//
// Opening continues an existing live file (agent restart, task restart in the
// same directory). Rotation order is: shift .k -> .k+1 (the rename over
// .max_files drops the oldest), live -> .1, publish the new start offset,
// create the new live file. A reader that finds the live file missing knows
// it raced a rotation and retries.
//
// Thread safety: none; owned by one LogPump stream.
#ifndef BERTH_AGENT_LOGS_ROTATING_FILE_H_
#define BERTH_AGENT_LOGS_ROTATING_FILE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/logs/log_files.h"
#include "agent/logs/log_times.h"
#include "agent/runtime/proc.h"

namespace berth::agent {

class RotatingFile {
 public:
  // `dir` must exist.
  static absl::StatusOr<std::unique_ptr<RotatingFile>> Open(
      const std::string& dir, LogStream stream, const LogLimits& limits);

  // Writes all of `data`, rotating as often as needed, and dates it `now`
  // in the time marks (log_times.h). On error some prefix may have been
  // written; end_offset() tells how much.
  absl::Status Append(absl::string_view data, absl::Time now = absl::Now());

  // Logical offset one past the last byte stored.
  uint64_t end_offset() const { return start_ + size_; }

 private:
  RotatingFile(std::string dir, LogStream stream, LogLimits limits)
      : dir_(std::move(dir)), stream_(stream), limits_(limits) {}
  absl::Status OpenLive();
  absl::Status Rotate();

  const std::string dir_;
  const LogStream stream_;
  const LogLimits limits_;
  Fd fd_;
  std::unique_ptr<LogTimesWriter> times_;
  uint64_t start_ = 0;  // logical offset of the live file's first byte
  uint64_t size_ = 0;   // bytes in the live file
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_LOGS_ROTATING_FILE_H_
