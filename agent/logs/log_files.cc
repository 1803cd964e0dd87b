#include "agent/logs/log_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  int e = errno;
  return absl::ErrnoToStatus(
      e, absl::StrCat(what, " ", path, ": ", std::strerror(e)));
}

}  // namespace

absl::string_view LogStreamName(LogStream stream) {
  return stream == LogStream::kStdout ? "stdout" : "stderr";
}

absl::Status ValidateLogLimits(const LogLimits& limits) {
  if (limits.max_bytes == 0) {
    return absl::InvalidArgumentError("log limits: max_bytes must be > 0");
  }
  if (limits.max_files < 0 || limits.max_files > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log limits: max_files must be in [0, 1000], got ", limits.max_files));
  }
  return absl::OkStatus();
}

std::string LogFilePath(const std::string& dir, LogStream stream, int k) {
  std::string p = absl::StrCat(dir, "/", LogStreamName(stream), ".log");
  if (k > 0) absl::StrAppend(&p, ".", k);
  return p;
}

std::string LogStartPath(const std::string& dir, LogStream stream) {
  return absl::StrCat(LogFilePath(dir, stream), ".start");
}

absl::StatusOr<uint64_t> ReadLogStart(const std::string& dir,
                                      LogStream stream) {
  std::string path = LogStartPath(dir, stream);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return Errno("open", path);
  }
  char buf[32];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int e = errno;
  close(fd);
  if (n < 0) {
    errno = e;
    return Errno("read", path);
  }
  uint64_t v = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)),
                        &v)) {
    return absl::DataLossError(
        absl::StrCat("log start file ", path, " does not hold an offset"));
  }
  return v;
}

absl::Status WriteLogStart(const std::string& dir, LogStream stream,
                           uint64_t start) {
  std::string path = LogStartPath(dir, stream);
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", tmp);
  std::string text = absl::StrCat(start, "\n");
  ssize_t n = write(fd, text.data(), text.size());
  int e = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    errno = n < 0 ? e : ENOSPC;
    return Errno("write", tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  return absl::OkStatus();
}

}  // namespace berth::agent
