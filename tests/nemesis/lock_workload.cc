#include "tests/nemesis/lock_workload.h"

#include <signal.h>

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"

namespace berth::nemesis {

absl::Status LockWorkload::Start(int max_seconds) {
  absl::MutexLock l(&mu_);
  for (int i = 0; i < contenders_; ++i) {
    std::string history = absl::StrCat(work_dir_, "/lock-history-", i);
    histories_.push_back(history);
    auto p = e2e::Subprocess::Start(
        {bin_, "--endpoints", absl::StrJoin(endpoints_, ","), "--lock",
         "/nem/lock", "--history", history, "--id", absl::StrCat(i), "--writes",
         "3", "--max-seconds", absl::StrCat(max_seconds)},
        absl::StrCat(work_dir_, "/contender-", i));
    if (!p.ok()) return p.status();
    procs_.push_back(std::move(*p));
    paused_.push_back(false);
  }
  return absl::OkStatus();
}

int LockWorkload::Holder() const {
  // A contender whose last event is a grant or a write is inside its
  // critical section (it logs each event as it happens).
  for (size_t i = 0; i < histories_.size(); ++i) {
    std::string text = e2e::ReadFileOrEmpty(histories_[i]);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    absl::string_view last = text;
    size_t nl = last.rfind('\n');
    if (nl != absl::string_view::npos) last.remove_prefix(nl + 1);
    if (absl::StartsWith(last, "ACQ ") || absl::StartsWith(last, "WRITE ")) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void LockWorkload::Pause(uint64_t pick) {
  absl::MutexLock l(&mu_);
  if (procs_.empty()) return;
  int holder = Holder();
  size_t i = holder >= 0 ? holder : pick % procs_.size();
  procs_[i]->Signal(SIGSTOP);
  paused_[i] = true;
}

void LockWorkload::ResumeAll() {
  absl::MutexLock l(&mu_);
  for (size_t i = 0; i < procs_.size(); ++i) {
    if (paused_[i]) procs_[i]->Signal(SIGCONT);
    paused_[i] = false;
  }
}

std::vector<std::string> LockWorkload::Stop() {
  ResumeAll();
  absl::MutexLock l(&mu_);
  std::vector<std::string> bad;
  for (auto& p : procs_) p->Signal(SIGTERM);
  for (size_t i = 0; i < procs_.size(); ++i) {
    std::optional<int> code = procs_[i]->Wait(absl::Seconds(60));
    if (code != 0) {
      bad.push_back(absl::StrCat(
          "contender ", i, " exited ",
          code.has_value() ? absl::StrCat(*code) : std::string("late"), " (",
          work_dir_, "/contender-", i, ".err)"));
    }
  }
  procs_.clear();
  return bad;
}

LockVerdict LockWorkload::Check() {
  LockVerdict v;
  std::vector<e2e::HistoryEvent> all;
  for (size_t i = 0; i < histories_.size(); ++i) {
    auto events = e2e::ParseHistory(e2e::ReadFileOrEmpty(histories_[i]), i);
    if (!events.ok()) {
      v.error = events.status();
      return v;
    }
    all.insert(all.end(), events->begin(), events->end());
  }
  // Read back every guarded write, linearizably, after all faults healed.
  auto client = lock::Client::Connect(endpoints_);
  if (!client.ok()) {
    v.error = client.status();
    return v;
  }
  lock::RangeOptions ro;
  ro.prefix = true;
  auto range = (*client)->kv().Range("/nem/hist/", ro);
  if (!range.ok()) {
    v.error = range.status();
    return v;
  }
  std::map<std::string, e2e::StoredWrite> stored;
  for (const lock::KeyValue& kv : range->kvs) {
    stored[kv.key] = {kv.mod_revision, kv.version};
  }
  v.violations = e2e::CheckHistory(all, stored, &v.stats);
  return v;
}

}  // namespace berth::nemesis
