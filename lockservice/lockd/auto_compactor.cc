#include "lockservice/lockd/auto_compactor.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::lockd {

absl::StatusOr<AutoCompactionOptions> ParseAutoCompaction(
    const std::string& mode, const std::string& retention) {
  AutoCompactionOptions out;
  if (mode == "off") {
    out.mode = AutoCompactionOptions::Mode::kOff;
    return out;
  }
  if (mode == "revision") {
    out.mode = AutoCompactionOptions::Mode::kRevision;
    if (retention.empty()) return out;
    int64_t n = 0;
    if (!absl::SimpleAtoi(retention, &n) || n < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--auto-compaction-retention: in revision mode it must be a "
          "number of revisions >= 1, got \"",
          retention, "\""));
    }
    out.retention_revisions = n;
    return out;
  }
  if (mode == "periodic") {
    out.mode = AutoCompactionOptions::Mode::kPeriodic;
    if (retention.empty()) return out;
    double hours = 0;
    absl::Duration d;
    if (absl::SimpleAtod(retention, &hours)) {
      d = absl::Hours(hours);
    } else if (!absl::ParseDuration(retention, &d)) {
      d = absl::ZeroDuration();
    }
    if (d < absl::Seconds(1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--auto-compaction-retention: in periodic mode it must be a "
          "duration of at least 1s such as 5m or 1h (a bare number is "
          "hours), got \"",
          retention, "\""));
    }
    out.retention_period = d;
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--auto-compaction-mode must be revision, periodic or "
                   "off, got \"",
                   mode, "\""));
}

std::string DescribeAutoCompaction(const AutoCompactionOptions& opts) {
  switch (opts.mode) {
    case AutoCompactionOptions::Mode::kOff:
      return "off";
    case AutoCompactionOptions::Mode::kRevision:
      return absl::StrCat("revision ", opts.retention_revisions);
    case AutoCompactionOptions::Mode::kPeriodic:
      return absl::StrCat("periodic ",
                          absl::FormatDuration(opts.retention_period));
  }
  return "?";
}

int64_t AutoCompactor::Next(absl::Time now, int64_t revision,
                            int64_t compact_revision) {
  switch (opts_.mode) {
    case AutoCompactionOptions::Mode::kOff:
      return 0;
    case AutoCompactionOptions::Mode::kRevision: {
      const int64_t target = revision - opts_.retention_revisions;
      const int64_t step = std::max<int64_t>(1, opts_.retention_revisions / 10);
      return target > 0 && target - compact_revision >= step ? target : 0;
    }
    case AutoCompactionOptions::Mode::kPeriodic:
      return NextPeriodic(now, revision, compact_revision);
  }
  return 0;
}

int64_t AutoCompactor::NextPeriodic(absl::Time now, int64_t revision,
                                    int64_t compact_revision) {
  const absl::Duration period = opts_.retention_period;
  // About a hundred samples per period bound memory and the error.
  if (samples_.empty() || now - samples_.back().first >= period / 100) {
    samples_.emplace_back(now, revision);
  }
  // The newest sample at least `period` old: every revision up to it was
  // written before now - period. Older samples are no longer needed.
  int64_t target = 0;
  while (!samples_.empty() && now - samples_.front().first >= period) {
    target = samples_.front().second;
    if (samples_.size() >= 2 && now - samples_[1].first >= period) {
      samples_.pop_front();
      continue;
    }
    break;
  }
  if (target <= compact_revision || target <= 0) return 0;
  if (now - last_compaction_ < period / 10) return 0;
  last_compaction_ = now;
  return target;
}

void AutoCompactor::Reset() {
  samples_.clear();
  last_compaction_ = absl::InfinitePast();
}

}  // namespace berth::lockd
