// LogReader: reads one stream of an allocation's captured output (layout in
// log_files.h) for `berth job logs [-f]`: the last N lines, and new data from
// a logical offset, blocking with a deadline until some arrives.
//
// It needs only the files, not the LogPump, so it works in another process
// and after an agent restart. It copes with concurrent rotation: it takes a
// consistent view (the .start sidecar is read before and after listing the
// files, and every file it opens is checked to be the one it listed) and
// retries when a rotation raced it.
//
// Data rotated away before it was read is reported as `skipped`, never
// silently.
//
// Thread safety: a LogReader is used by one thread at a time; create one per
// follower (they are cheap: one inotify descriptor).
#ifndef BERTH_AGENT_LOGS_LOG_READER_H_
#define BERTH_AGENT_LOGS_LOG_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/logs/log_files.h"
#include "agent/runtime/proc.h"

namespace berth::agent {

struct LogChunk {
  std::string data;
  uint64_t offset = 0;  // logical offset of data[0]
  // Where the next Read/Follow should start: offset + data.size().
  uint64_t next_offset = 0;
  // Bytes before `offset` that were requested but are no longer on disk.
  uint64_t skipped = 0;
};

class LogReader {
 public:
  // NotFound naming `dir` if it does not exist.
  static absl::StatusOr<std::unique_ptr<LogReader>> Open(const std::string& dir,
                                                         LogStream stream);

  // The last `lines` lines across the rotated files, oldest first; a final
  // line without '\n' counts as a line. At most `max_bytes` are returned
  // (the newest ones). next_offset is the end, for a Follow that continues.
  absl::StatusOr<LogChunk> Tail(size_t lines, size_t max_bytes = 4 << 20);

  // Up to `max_bytes` from logical `offset`, without waiting. Empty data
  // when nothing is there yet.
  absl::StatusOr<LogChunk> Read(uint64_t offset, size_t max_bytes);

  // Like Read, but when there is nothing at `offset` yet, waits (inotify on
  // the directory) until data arrives or `deadline` passes; then returns an
  // empty chunk, not an error, so a streaming RPC can check for
  // cancellation and call again.
  absl::StatusOr<LogChunk> Follow(uint64_t offset, size_t max_bytes,
                                  absl::Time deadline);

 private:
  LogReader(std::string dir, LogStream stream, Fd inotify)
      : dir_(std::move(dir)), stream_(stream), inotify_(std::move(inotify)) {}

  const std::string dir_;
  const LogStream stream_;
  const Fd inotify_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_LOGS_LOG_READER_H_
