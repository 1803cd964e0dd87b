#include "agent/logs/log_reader.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

constexpr int kMaxRetries = 10000;
constexpr size_t kBlock = 64 << 10;

absl::Status Errno(absl::string_view what, const std::string& path) {
  int e = errno;
  return absl::ErrnoToStatus(
      e, absl::StrCat(what, " ", path, ": ", std::strerror(e)));
}

struct Segment {
  Fd fd;
  ino_t ino = 0;
  uint64_t start = 0;  // logical offset of the first byte
  uint64_t size = 0;   // at snapshot time; only the live file grows
};

// Oldest first; the live file last. Empty when nothing was written yet.
struct View {
  std::vector<Segment> segs;
  uint64_t start = 0;  // of the live file
  uint64_t begin() const { return segs.empty() ? start : segs.front().start; }
  uint64_t end() const {
    return segs.empty() ? start : segs.back().start + segs.back().size;
  }
};

// Opens `path` into `seg`; false when it does not exist.
absl::StatusOr<bool> OpenSegment(const std::string& path, Segment& seg) {
  seg.fd = Fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!seg.fd.valid()) {
    if (errno == ENOENT) return false;
    return Errno("open log", path);
  }
  struct stat st;
  if (fstat(seg.fd.get(), &st) != 0) return Errno("stat log", path);
  seg.ino = st.st_ino;
  seg.size = static_cast<uint64_t>(st.st_size);
  return true;
}

ino_t InodeAt(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

enum class Attempt { kDone, kRaced };

absl::StatusOr<Attempt> TrySnapshot(const std::string& dir, LogStream stream,
                                    View& view) {
  view = View();
  absl::StatusOr<uint64_t> start = ReadLogStart(dir, stream);
  if (!start.ok()) return start.status();
  view.start = *start;
  Segment live;
  absl::StatusOr<bool> has_live = OpenSegment(LogFilePath(dir, stream), live);
  if (!has_live.ok()) return has_live.status();
  std::vector<Segment> rotated;  // .1, .2, ...
  for (int k = 1;; ++k) {
    Segment seg;
    absl::StatusOr<bool> found = OpenSegment(LogFilePath(dir, stream, k), seg);
    if (!found.ok()) return found.status();
    if (!*found) break;
    rotated.push_back(std::move(seg));
  }
  if (!*has_live) {
    // Before the first Attach nothing exists; otherwise a rotation is
    // between renaming the live file and creating the next one.
    if (*start == 0 && rotated.empty()) return Attempt::kDone;
    return Attempt::kRaced;
  }
  // The same files must still be in place, under the same start offset.
  absl::StatusOr<uint64_t> again = ReadLogStart(dir, stream);
  if (!again.ok()) return again.status();
  if (*again != *start) return Attempt::kRaced;
  if (InodeAt(LogFilePath(dir, stream)) != live.ino) return Attempt::kRaced;
  for (size_t i = 0; i < rotated.size(); ++i) {
    if (InodeAt(LogFilePath(dir, stream, static_cast<int>(i + 1))) !=
        rotated[i].ino) {
      return Attempt::kRaced;
    }
  }
  uint64_t at = *start;
  for (Segment& seg : rotated) {
    if (seg.size > at) {
      return absl::DataLossError(absl::StrCat(
          "logs in ", dir, ": rotated ", LogStreamName(stream),
          " files hold more bytes than the start offset ", *start));
    }
    at -= seg.size;
    seg.start = at;
  }
  live.start = *start;
  std::reverse(rotated.begin(), rotated.end());
  view.segs = std::move(rotated);
  view.segs.push_back(std::move(live));
  return Attempt::kDone;
}

absl::StatusOr<View> Snapshot(const std::string& dir, LogStream stream) {
  View view;
  for (int i = 0; i < kMaxRetries; ++i) {
    absl::StatusOr<Attempt> a = TrySnapshot(dir, stream, view);
    if (!a.ok()) return a.status();
    if (*a == Attempt::kDone) return view;
    // A rotation is a handful of renames; let the pump finish it.
    std::this_thread::yield();
  }
  return absl::UnavailableError(
      absl::StrCat("logs in ", dir, ": ", LogStreamName(stream),
                   " kept rotating while being read"));
}

// Reads [offset, offset + max) from `view`, which must contain `offset`.
// The live file may have grown since the snapshot; that data is included.
absl::StatusOr<std::string> ReadRange(const View& view, uint64_t offset,
                                      size_t max, const std::string& dir) {
  std::string out;
  for (size_t i = 0; i < view.segs.size() && out.size() < max; ++i) {
    const Segment& seg = view.segs[i];
    bool live = i + 1 == view.segs.size();
    if (!live && offset >= seg.start + seg.size) continue;
    uint64_t pos = offset - seg.start;
    while (out.size() < max) {
      size_t want = std::min(kBlock, max - out.size());
      if (!live) {
        want = static_cast<size_t>(
            std::min<uint64_t>(want, seg.start + seg.size - offset));
      }
      if (want == 0) break;
      size_t old = out.size();
      out.resize(old + want);
      ssize_t n =
          pread(seg.fd.get(), out.data() + old, want, static_cast<off_t>(pos));
      if (n < 0) {
        out.resize(old);
        if (errno == EINTR) continue;
        return Errno("read log in", dir);
      }
      out.resize(old + static_cast<size_t>(n));
      if (n == 0) break;
      pos += static_cast<uint64_t>(n);
      offset += static_cast<uint64_t>(n);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogReader>> LogReader::Open(
    const std::string& dir, LogStream stream) {
  Fd in(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!in.valid()) return Errno("inotify_init1 for", dir);
  if (inotify_add_watch(in.get(), dir.c_str(),
                        IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) <
      0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("log directory ", dir, " does not exist"));
    }
    return Errno("watch log directory", dir);
  }
  return std::unique_ptr<LogReader>(new LogReader(dir, stream, std::move(in)));
}

absl::StatusOr<LogChunk> LogReader::Read(uint64_t offset, size_t max_bytes) {
  absl::StatusOr<View> view = Snapshot(dir_, stream_);
  if (!view.ok()) return view.status();
  LogChunk chunk;
  if (offset < view->begin()) {
    chunk.skipped = view->begin() - offset;
    offset = view->begin();
  }
  chunk.offset = offset;
  chunk.next_offset = offset;
  if (offset > view->end()) {
    return absl::OutOfRangeError(
        absl::StrCat("log offset ", offset, " is past the end (", view->end(),
                     ") of ", LogStreamName(stream_), " in ", dir_));
  }
  if (view->segs.empty()) return chunk;
  absl::StatusOr<std::string> data = ReadRange(*view, offset, max_bytes, dir_);
  if (!data.ok()) return data.status();
  chunk.data = *std::move(data);
  chunk.next_offset = offset + chunk.data.size();
  return chunk;
}

absl::StatusOr<LogChunk> LogReader::Tail(size_t lines, size_t max_bytes) {
  absl::StatusOr<View> view = Snapshot(dir_, stream_);
  if (!view.ok()) return view.status();
  const uint64_t end = view->end();
  const uint64_t floor =
      std::max(view->begin(), end > max_bytes ? end - max_bytes : 0);
  // Walk backwards to the start of the wanted lines; a '\n' as the very last
  // byte ends the last line rather than starting an empty one.
  uint64_t from = end;
  size_t seen = 0;
  bool found = lines == 0;
  while (!found && from > floor) {
    uint64_t block_start = std::max(floor, from > kBlock ? from - kBlock : 0);
    absl::StatusOr<std::string> block = ReadRange(
        *view, block_start, static_cast<size_t>(from - block_start), dir_);
    if (!block.ok()) return block.status();
    for (size_t i = block->size(); i > 0 && !found; --i) {
      uint64_t at = block_start + i - 1;
      if ((*block)[i - 1] != '\n' || at + 1 == end) continue;
      if (++seen == lines) {
        from = at + 1;
        found = true;
      }
    }
    if (!found) from = block_start;
  }
  LogChunk chunk;
  chunk.offset = from;
  absl::StatusOr<std::string> data =
      ReadRange(*view, from, static_cast<size_t>(end - from), dir_);
  if (!data.ok()) return data.status();
  chunk.data = *std::move(data);
  chunk.next_offset = from + chunk.data.size();
  return chunk;
}

absl::StatusOr<LogChunk> LogReader::Follow(uint64_t offset, size_t max_bytes,
                                           absl::Time deadline) {
  while (true) {
    // Drain events first: the watch predates this read, so anything written
    // after it wakes the poll below.
    char events[4096];
    while (read(inotify_.get(), events, sizeof(events)) > 0) {
    }
    absl::StatusOr<LogChunk> chunk = Read(offset, max_bytes);
    if (!chunk.ok() || !chunk->data.empty() || chunk->skipped > 0) {
      return chunk;
    }
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return chunk;
    pollfd p{inotify_.get(), POLLIN, 0};
    int ms = static_cast<int>(std::min<int64_t>(
        absl::ToInt64Milliseconds(left + absl::Milliseconds(1) -
                                  absl::Nanoseconds(1)),
        1 << 30));
    if (poll(&p, 1, ms) < 0 && errno != EINTR) {
      return Errno("wait for log data in", dir_);
    }
  }
}

}  // namespace berth::agent
