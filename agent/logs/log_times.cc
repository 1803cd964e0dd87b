#include "agent/logs/log_times.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::agent {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  int e = errno;
  return absl::ErrnoToStatus(
      e, absl::StrCat(what, " ", path, ": ", std::strerror(e)));
}

struct Mark {
  uint64_t offset = 0;
  int64_t unix_ms = 0;
};

// Complete, well-formed lines only.
std::vector<Mark> ParseMarks(const std::string& text) {
  std::vector<Mark> out;
  size_t end = text.rfind('\n');
  if (end == std::string::npos) return out;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text).substr(0, end), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    Mark m;
    if (f.size() == 2 && absl::SimpleAtoi(f[0], &m.offset) &&
        absl::SimpleAtoi(f[1], &m.unix_ms)) {
      out.push_back(m);
    }
  }
  return out;
}

absl::StatusOr<std::string> ReadAll(const std::string& path, bool* exists) {
  std::ifstream in(path, std::ios::binary);
  *exists = in.good();
  if (!*exists) return std::string();
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("read ", path));
  return text;
}

}  // namespace

std::string LogTimesPath(const std::string& dir, LogStream stream) {
  return absl::StrCat(LogFilePath(dir, stream), ".times");
}

absl::StatusOr<std::unique_ptr<LogTimesWriter>> LogTimesWriter::Open(
    const std::string& dir, LogStream stream) {
  std::string path = LogTimesPath(dir, stream);
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd.valid()) return Errno("open", path);
  return std::unique_ptr<LogTimesWriter>(
      new LogTimesWriter(std::move(path), std::move(fd)));
}

absl::Status LogTimesWriter::Note(uint64_t offset, absl::Time now) {
  if (now - last_ < kLogMarkEvery) return absl::OkStatus();
  last_ = now;
  std::string line = absl::StrCat(offset, " ", absl::ToUnixMillis(now), "\n");
  if (write(fd_.get(), line.data(), line.size()) !=
      static_cast<ssize_t>(line.size())) {
    return Errno("write", path_);
  }
  return absl::OkStatus();
}

absl::Status LogTimesWriter::Trim(uint64_t floor) {
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return Errno("stat", path_);
  if (static_cast<uint64_t>(st.st_size) <= kLogTimesTrimBytes) {
    return absl::OkStatus();
  }
  bool exists = false;
  absl::StatusOr<std::string> text = ReadAll(path_, &exists);
  if (!text.ok()) return text.status();
  std::vector<Mark> marks = ParseMarks(*text);
  // The last mark below the floor still dates the data at the floor.
  size_t keep = 0;
  while (keep + 1 < marks.size() && marks[keep + 1].offset <= floor) ++keep;
  std::string out;
  for (size_t i = keep; i < marks.size(); ++i) {
    absl::StrAppend(&out, marks[i].offset, " ", marks[i].unix_ms, "\n");
  }
  std::string tmp = path_ + ".tmp";
  {
    Fd t(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!t.valid()) return Errno("create", tmp);
    if (write(t.get(), out.data(), out.size()) !=
        static_cast<ssize_t>(out.size())) {
      return Errno("write", tmp);
    }
  }
  if (rename(tmp.c_str(), path_.c_str()) != 0) return Errno("rename", tmp);
  fd_ = Fd(open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd_.valid()) return Errno("open", path_);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LogOffsetSince(const std::string& dir,
                                        LogStream stream, absl::Time since,
                                        uint64_t end) {
  bool exists = false;
  absl::StatusOr<std::string> text =
      ReadAll(LogTimesPath(dir, stream), &exists);
  if (!text.ok()) return text.status();
  if (!exists) return 0;
  const int64_t after = absl::ToUnixMillis(since - kLogMarkEvery);
  for (const Mark& m : ParseMarks(*text)) {
    if (m.unix_ms > after) return std::min(m.offset, end);
  }
  return end;
}

}  // namespace berth::agent
