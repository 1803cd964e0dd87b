#include "agent/server/log_retention.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;
constexpr char kMarker[] = "forgotten";

}  // namespace

absl::Status MarkForgotten(const std::string& allocs_dir, const std::string& id,
                           absl::Time now, const LogRetention& retention) {
  const fs::path dir = fs::path(allocs_dir) / id;
  std::error_code ec;
  if (retention.keep <= absl::ZeroDuration() || retention.max_kept == 0) {
    fs::remove_all(dir, ec);
  } else {
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
      if (e.path().filename() != "logs") fs::remove_all(e.path(), ec);
    }
    if (!fs::exists(dir / "logs")) {
      fs::remove_all(dir, ec);
      return absl::OkStatus();
    }
    std::ofstream(dir / kMarker) << absl::ToUnixMillis(now) << "\n";
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("forget ", dir.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

void UnmarkForgotten(const std::string& allocs_dir, const std::string& id) {
  std::error_code ec;
  fs::remove(fs::path(allocs_dir) / id / kMarker, ec);
}

size_t SweepForgotten(const std::string& allocs_dir, absl::Time now,
                      const LogRetention& retention) {
  struct Forgotten {
    int64_t at_ms;
    fs::path dir;
  };
  std::vector<Forgotten> all;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(allocs_dir, ec)) {
    std::ifstream in(e.path() / kMarker);
    if (!in.good()) continue;
    std::string text;
    std::getline(in, text);
    int64_t ms = 0;
    // An unreadable marker counts as old: the directory is garbage anyway.
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &ms)) ms = 0;
    all.push_back({ms, e.path()});
  }
  std::sort(all.begin(), all.end(), [](const Forgotten& a, const Forgotten& b) {
    return a.at_ms > b.at_ms;  // newest first
  });
  const int64_t cutoff = absl::ToUnixMillis(now - retention.keep);
  size_t removed = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i < retention.max_kept && all[i].at_ms >= cutoff) continue;
    fs::remove_all(all[i].dir, ec);
    ++removed;
  }
  return removed;
}

}  // namespace berth::agent
