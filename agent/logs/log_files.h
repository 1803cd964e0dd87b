// On-disk layout of one allocation's captured output, shared by the writer
// (RotatingFile, driven by LogPump) and LogReader.
//
// For stream S in {stdout, stderr} inside an allocation's log directory:
//   S.log          the live file, appended to
//   S.log.1 .. .N  rotated files, .1 the newest; N <= LogLimits::max_files
//   S.log.start    decimal logical offset of the first byte of S.log
//
// A logical offset counts every byte the task ever wrote to the stream (that
// the pump stored), so a follower can resume across rotations. Rotated files
// are immutable; S.log.start changes only at rotation (written atomically by
// rename) and acts as a sequence number for readers.
#ifndef BERTH_AGENT_LOGS_LOG_FILES_H_
#define BERTH_AGENT_LOGS_LOG_FILES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::agent {

enum class LogStream { kStdout, kStderr };

// "stdout" / "stderr".
absl::string_view LogStreamName(LogStream stream);

struct LogLimits {
  // A file is rotated when it reaches exactly this many bytes; no file ever
  // exceeds it. Must be > 0.
  uint64_t max_bytes = 10 << 20;
  // Rotated files kept besides the live one; 0 discards data at rotation.
  // Disk use per stream is at most max_bytes * (max_files + 1).
  int max_files = 3;
};

// InvalidArgument naming the bad field.
absl::Status ValidateLogLimits(const LogLimits& limits);

// <dir>/<stream>.log, or <dir>/<stream>.log.<k> for k >= 1.
std::string LogFilePath(const std::string& dir, LogStream stream, int k = 0);
// <dir>/<stream>.log.start
std::string LogStartPath(const std::string& dir, LogStream stream);

// The logical offset of the live file's first byte; 0 when the sidecar does
// not exist yet. DataLoss naming the file when it is garbage.
absl::StatusOr<uint64_t> ReadLogStart(const std::string& dir, LogStream stream);
// Replaces the sidecar atomically (write to a temporary file, rename).
absl::Status WriteLogStart(const std::string& dir, LogStream stream,
                           uint64_t start);

}  // namespace berth::agent

#endif  // BERTH_AGENT_LOGS_LOG_FILES_H_
