#include "agent/logs/rotating_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  int e = errno;
  return absl::ErrnoToStatus(
      e, absl::StrCat(what, " ", path, ": ", std::strerror(e)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RotatingFile>> RotatingFile::Open(
    const std::string& dir, LogStream stream, const LogLimits& limits) {
  if (absl::Status s = ValidateLogLimits(limits); !s.ok()) return s;
  std::unique_ptr<RotatingFile> f(new RotatingFile(dir, stream, limits));
  absl::StatusOr<uint64_t> start = ReadLogStart(dir, stream);
  if (!start.ok()) return start.status();
  f->start_ = *start;
  // Files beyond a (possibly lowered) max_files would never be rotated away.
  for (int k = limits.max_files + 1;; ++k) {
    if (unlink(LogFilePath(dir, stream, k).c_str()) != 0) break;
  }
  if (absl::Status s = f->OpenLive(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<LogTimesWriter>> times =
      LogTimesWriter::Open(dir, stream);
  if (!times.ok()) return times.status();
  f->times_ = *std::move(times);
  // A live file left larger than the limit (limits lowered) rotates first.
  if (f->size_ >= limits.max_bytes) {
    if (absl::Status s = f->Rotate(); !s.ok()) return s;
  }
  return f;
}

absl::Status RotatingFile::OpenLive() {
  std::string path = LogFilePath(dir_, stream_);
  fd_ = Fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd_.valid()) return Errno("open log", path);
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return Errno("stat log", path);
  size_ = static_cast<uint64_t>(st.st_size);
  return absl::OkStatus();
}

absl::Status RotatingFile::Append(absl::string_view data, absl::Time now) {
  // A lost mark only makes --since coarser; the output itself matters more,
  // so its error is not the caller's.
  if (!data.empty()) times_->Note(end_offset(), now).IgnoreError();
  while (!data.empty()) {
    if (size_ >= limits_.max_bytes) {
      if (absl::Status s = Rotate(); !s.ok()) return s;
    }
    size_t room = static_cast<size_t>(
        std::min<uint64_t>(limits_.max_bytes - size_, data.size()));
    ssize_t n = write(fd_.get(), data.data(), room);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write log", LogFilePath(dir_, stream_));
    }
    size_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
  // Rotating eagerly keeps "no file exceeds max_bytes and a full file is
  // never live" true between calls, which makes the layout easy to test.
  if (size_ >= limits_.max_bytes) return Rotate();
  return absl::OkStatus();
}

absl::Status RotatingFile::Rotate() {
  fd_ = Fd();
  std::string live = LogFilePath(dir_, stream_);
  for (int k = limits_.max_files - 1; k >= 1; --k) {
    std::string from = LogFilePath(dir_, stream_, k);
    if (rename(from.c_str(), LogFilePath(dir_, stream_, k + 1).c_str()) != 0 &&
        errno != ENOENT) {
      return Errno("rotate", from);
    }
  }
  if (limits_.max_files > 0) {
    if (rename(live.c_str(), LogFilePath(dir_, stream_, 1).c_str()) != 0) {
      return Errno("rotate", live);
    }
  } else if (unlink(live.c_str()) != 0) {
    return Errno("discard", live);
  }
  start_ += size_;
  size_ = 0;
  if (absl::Status s = WriteLogStart(dir_, stream_, start_); !s.ok()) return s;
  if (absl::Status s = OpenLive(); !s.ok()) return s;
  // Rotated files hold at most max_bytes each.
  const uint64_t kept = limits_.max_bytes * limits_.max_files;
  times_->Trim(start_ > kept ? start_ - kept : 0).IgnoreError();
  return absl::OkStatus();
}

}  // namespace berth::agent
