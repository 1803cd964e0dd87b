#include "cli/commands/bench_start_probe.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "proto/agent.pb.h"
#include "scheduler/state/keys.h"

namespace berth::cli {

absl::StatusOr<std::unique_ptr<StartProbe>> StartProbe::Start(
    lock::Client* client, std::string job_prefix) {
  std::unique_ptr<StartProbe> p(new StartProbe(std::move(job_prefix)));
  // Start from the current revision, read first: Watch::Start returns
  // before the server has registered the watch, and a change made in
  // between (the first submit's allocation) must not be missed. Reading
  // one (absent) key is enough to learn the revision.
  absl::StatusOr<lock::RangeResult> now =
      client->kv().Range("/berth/bench-start-probe", lock::RangeOptions{});
  if (!now.ok()) return now.status();
  lock::WatchOptions wo;
  wo.prefix = true;
  wo.start_revision = now->revision + 1;
  absl::StatusOr<std::unique_ptr<lock::Watch>> w =
      lock::Watch::Start(client, sched::kBerthPrefix, wo,
                         [raw = p.get()](absl::StatusOr<lock::WatchBatch> b) {
                           raw->OnBatch(std::move(b));
                         });
  if (!w.ok()) return w.status();
  p->watch_ = std::move(*w);
  return p;
}

StartProbe::~StartProbe() { watch_.reset(); }

void StartProbe::OnBatch(absl::StatusOr<lock::WatchBatch> batch) {
  // Stamped once per batch, at arrival: events of one batch arrived
  // together, whatever their revisions.
  const absl::Time now = absl::Now();
  absl::MutexLock l(&mu_);
  if (!batch.ok()) {
    watch_status_ = batch.status();
    return;
  }
  for (const lock::WatchEvent& ev : batch->events) {
    if (ev.type != lock::WatchEvent::Type::kPut) continue;
    sched::KeyRef ref = sched::ParseKey(ev.kv.key);
    if (ref.type != sched::KeyRef::Type::kAgentAlloc &&
        ref.type != sched::KeyRef::Type::kStatus) {
      continue;
    }
    // Allocation ids are "<ns>.<job>.<slot>.<generation>", and names are
    // DNS labels, so the second part is the job.
    std::vector<std::string> parts = absl::StrSplit(ref.alloc_id, '.');
    if (parts.size() != 4 || !absl::StartsWith(parts[1], job_prefix_)) {
      continue;
    }
    auto [it, inserted] = allocs_.try_emplace(ref.alloc_id);
    AllocTimes& t = it->second;
    if (inserted) {
      t.job = parts[1];
      by_job_[t.job].push_back(ref.alloc_id);
    }
    if (ref.type == sched::KeyRef::Type::kAgentAlloc) {
      if (t.placed_seen == absl::InfinitePast()) t.placed_seen = now;
      continue;
    }
    agentpb::AllocationStatus st;
    if (!st.ParseFromString(ev.kv.value)) continue;
    if (st.start_unix_ms() > 0) {
      t.start_unix_ms = st.start_unix_ms();
      if (t.running_seen == absl::InfinitePast()) t.running_seen = now;
    }
    const bool terminal =
        st.state() == agentpb::EXITED || st.state() == agentpb::FAILED ||
        st.state() == agentpb::OOM_KILLED || st.state() == agentpb::KILLED ||
        st.state() == agentpb::LOST;
    if (terminal && !t.terminal) {
      t.terminal = true;
      t.exited_seen = now;
      t.finish_unix_ms = st.finish_unix_ms();
      t.succeeded = st.state() == agentpb::EXITED && st.exit_code() == 0;
      t.outcome = absl::StrCat(agentpb::AllocState_Name(st.state()),
                               st.state() == agentpb::EXITED
                                   ? absl::StrCat(" code ", st.exit_code())
                                   : "",
                               st.reason().empty() ? "" : ": ", st.reason());
    }
  }
}

int64_t StartProbe::TerminalCountLocked(const std::string& job) const {
  auto it = by_job_.find(job);
  if (it == by_job_.end()) return 0;
  int64_t n = 0;
  for (const std::string& id : it->second) {
    const AllocTimes& t = allocs_.at(id);
    if (!t.terminal) continue;
    // A failure ends the job: the bench submits with backoff_limit 0.
    if (!t.succeeded) return INT64_MAX;
    ++n;
  }
  return n;
}

absl::Status StartProbe::AwaitDone(const std::map<std::string, int64_t>& want,
                                   absl::Time deadline) {
  int64_t missing = 0;
  int64_t total = 0;
  for (const auto& [job, n] : want) total += n;
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!watch_status_.ok()) return true;
    missing = 0;
    for (const auto& [job, n] : want) {
      missing += std::max<int64_t>(0, n - TerminalCountLocked(job));
    }
    return missing == 0;
  };
  absl::MutexLock l(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (!watch_status_.ok()) {
    return absl::UnavailableError(
        absl::StrCat("status watch ended: ", watch_status_.ToString()));
  }
  if (missing > 0) {
    return absl::DeadlineExceededError(absl::StrCat(
        missing, " of ", total, " tasks had not finished by the deadline"));
  }
  return absl::OkStatus();
}

std::map<std::string, AllocTimes> StartProbe::Snapshot(
    const std::vector<std::string>& jobs) const {
  absl::MutexLock l(&mu_);
  std::map<std::string, AllocTimes> out;
  for (const std::string& job : jobs) {
    auto it = by_job_.find(job);
    if (it == by_job_.end()) continue;
    for (const std::string& id : it->second) out[id] = allocs_.at(id);
  }
  return out;
}

absl::Status StartProbe::watch_status() const {
  absl::MutexLock l(&mu_);
  return watch_status_;
}

Percentiles ComputePercentiles(std::vector<double> ms) {
  Percentiles p;
  p.count = static_cast<int64_t>(ms.size());
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * ms.size()));
    return ms[std::clamp<size_t>(i, 1, ms.size()) - 1];
  };
  p.p50 = rank(0.50);
  p.p90 = rank(0.90);
  p.p99 = rank(0.99);
  p.max = ms.back();
  return p;
}

}  // namespace berth::cli
