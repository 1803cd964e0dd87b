#include "agent/server/node_flags.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace berth::agent {
namespace {

absl::Status Bad(absl::string_view what, absl::string_view text,
                 absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " \"", text, "\": ", why));
}

}  // namespace

absl::StatusOr<int64_t> ParseCpuMillicores(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (absl::ConsumeSuffix(&t, "m")) {
    int64_t m = 0;
    if (!absl::SimpleAtoi(t, &m) || m <= 0) {
      return Bad("--cpu", text, "want a positive number of millicores");
    }
    return m;
  }
  double cores = 0;
  if (!absl::SimpleAtod(t, &cores) || !(cores > 0) || cores > 1e6) {
    return Bad("--cpu", text, "want cores (\"2\", \"1.5\") or \"2000m\"");
  }
  return static_cast<int64_t>(std::llround(cores * 1000));
}

absl::StatusOr<int64_t> ParseBytes(absl::string_view text) {
  static constexpr struct {
    const char* suffix;
    int64_t factor;
  } kUnits[] = {
      {"KiB", 1LL << 10},
      {"MiB", 1LL << 20},
      {"GiB", 1LL << 30},
      {"TiB", 1LL << 40},
      {"K", 1000LL},
      {"M", 1000LL * 1000},
      {"G", 1000LL * 1000 * 1000},
      {"T", 1000LL * 1000 * 1000 * 1000},
      {"B", 1},
  };
  absl::string_view t = absl::StripAsciiWhitespace(text);
  int64_t factor = 1;
  for (const auto& u : kUnits) {
    if (absl::ConsumeSuffix(&t, u.suffix)) {
      factor = u.factor;
      break;
    }
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(t, &n) || n <= 0) {
    return Bad("--memory", text,
               "want a positive size such as \"4GiB\", \"512MiB\" or bytes");
  }
  if (n > INT64_MAX / factor) return Bad("--memory", text, "too large");
  return n * factor;
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    absl::string_view text) {
  std::map<std::string, std::string> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first.empty() || !absl::StrContains(item, '=')) {
      return Bad("--labels", item, "want key=value");
    }
    if (!out.emplace(std::string(kv.first), std::string(kv.second)).second) {
      return Bad("--labels", item, "label given twice");
    }
  }
  return out;
}

int64_t DetectCpuMillicores() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n * 1000 : 1000;
}

int64_t DetectMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib * 1024;
  }
  return 0;
}

int64_t DetectPidsMax() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  int64_t n = 0;
  return (in >> n) ? n : 0;
}

std::string DefaultFifoDir(const std::string& data_dir,
                           const std::vector<std::string>& run_dirs) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(data_dir, ec).lexically_normal();
  if (ec) return "";
  if (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  for (const std::string& run : run_dirs) {
    struct statfs fs;
    if (statfs(run.c_str(), &fs) != 0 || fs.f_type != TMPFS_MAGIC) continue;
    return absl::StrCat(run, "/berth-agent/",
                        absl::StrReplaceAll(abs, {{"%", "%25"}, {"/", "%2F"}}));
  }
  return "";
}

absl::Status MakePrivateDir(const std::string& dir) {
  const std::filesystem::path path(dir);
  for (const std::filesystem::path& p : {path.parent_path(), path}) {
    if (mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", p.string()));
    }
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("stat ", p.string()));
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          p.string(),
          " is not a directory of this user that only it can write"));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::agent
