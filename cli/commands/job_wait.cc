#include "cli/commands/job_wait.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace berth::cli {
namespace {

// How `berth job status` names an allocation's state, plus its health.
std::string AllocState(const schedpb::AllocationView& v) {
  const jobpb::Allocation& a = v.alloc();
  if (a.outcome().state() != jobpb::AllocOutcome::STATE_UNSPECIFIED) {
    return absl::AsciiStrToLower(
        jobpb::AllocOutcome::State_Name(a.outcome().state()));
  }
  if (a.node().empty()) return "unplaced";
  if (!v.has_status() || v.status().attempt() != a.attempt()) return "placed";
  std::string s =
      absl::AsciiStrToLower(agentpb::AllocState_Name(v.status().state()));
  if (v.status().state() == agentpb::RUNNING && v.status().healthy()) {
    absl::StrAppend(&s, " (healthy)");
  }
  return s;
}

// Why a finished allocation failed, for people.
std::string FailureReason(const schedpb::AllocationView& v) {
  const jobpb::AllocOutcome& o = v.alloc().outcome();
  if (!o.reason().empty()) return o.reason();
  if (!v.status().reason().empty()) return v.status().reason();
  return absl::StrCat("exit code ", o.exit_code());
}

bool TaskFailed(const schedpb::AllocationView& v) {
  if (v.alloc().outcome().state() == jobpb::AllocOutcome::FAILED) return true;
  if (v.status().attempt() != v.alloc().attempt()) return false;
  switch (v.status().state()) {
    case agentpb::FAILED:
    case agentpb::OOM_KILLED:
      return true;
    case agentpb::EXITED:
      return v.status().exit_code() != 0;
    default:
      return false;
  }
}

std::string When(int64_t unix_s) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixSeconds(unix_s), absl::UTCTimeZone());
}

}  // namespace

JobProgress::Verdict JobProgress::Settle(Verdict v, std::string outcome) {
  outcome_ = std::move(outcome);
  return v;
}

JobProgress::Verdict JobProgress::Observe(
    const schedpb::JobStatusResponse& status, int64_t next_run_unix,
    absl::Time now, std::vector<std::string>* lines) {
  const jobpb::JobRecord& rec = status.record();
  // A follower's mirror may not have the submit yet.
  if (rec.version() < version_) return Verdict::kWaiting;
  const jobpb::Job& job = rec.job();
  if (rec.stopped()) return Settle(Verdict::kFailed, "the job was stopped");
  if (rec.suspended() || (job.kind() == jobpb::CRON && job.cron().suspend())) {
    lines->push_back(absl::StrCat("==> ", name_, ": suspended"));
    return Settle(Verdict::kDone, "suspended");
  }
  if (job.kind() == jobpb::CRON) {
    std::string next = next_run_unix > 0
                           ? absl::StrCat("next run ", When(next_run_unix))
                           : "no upcoming run";
    lines->push_back(absl::StrCat("==> ", name_, ": scheduled, ", next));
    return Settle(Verdict::kDone, absl::StrCat("scheduled, ", next));
  }

  // The allocations of the submitted spec; older ones are being replaced.
  std::vector<const schedpb::AllocationView*> current;
  for (const schedpb::AllocationView& v : status.allocations()) {
    if (v.alloc().job_version() == job.spec_hash()) current.push_back(&v);
  }
  std::sort(current.begin(), current.end(),
            [](auto* a, auto* b) { return a->alloc().id() < b->alloc().id(); });

  int placed = 0, healthy = 0, live = 0;
  for (const schedpb::AllocationView* v : current) {
    const jobpb::Allocation& a = v->alloc();
    const bool is_live =
        a.outcome().state() == jobpb::AllocOutcome::STATE_UNSPECIFIED &&
        a.desired_state() == jobpb::Allocation::RUN;
    if (is_live) {
      ++live;
      if (!a.node().empty()) ++placed;
      if (v->status().state() == agentpb::RUNNING && v->status().healthy() &&
          v->status().attempt() == a.attempt()) {
        ++healthy;
      }
    }
    const std::string state = AllocState(*v);
    std::string& last = alloc_state_[a.id()];
    if (state != last) {
      std::string where =
          a.node().empty() ? "" : absl::StrCat(" on ", a.node());
      std::string line =
          absl::StrCat("    alloc ", a.id(), where, ": ",
                       last.empty() ? "" : last + " \u2192 ", state);
      if (state == "unplaced" && !a.pending_reason().empty()) {
        absl::StrAppend(&line, " (", a.pending_reason(), ")");
      } else if (TaskFailed(*v)) {
        absl::StrAppend(&line, " (", FailureReason(*v), ")");
      }
      lines->push_back(std::move(line));
      last = state;
    }
    if (is_live && a.node().empty() && !a.pending_reason().empty()) {
      absl::Time& since =
          unplaced_since_.try_emplace(a.id(), now).first->second;
      if (now - since >= unplaced_grace_) {
        return Settle(Verdict::kFailed,
                      absl::StrCat("unplaced: ", a.pending_reason()));
      }
    } else {
      unplaced_since_.erase(a.id());
    }
  }

  // The record's summary is only trusted once the reconciler wrote it
  // after this submit.
  const jobpb::JobStatus& js = rec.status();
  const bool fresh =
      js.updated_unix_ms() >=
      std::max(rec.submit_unix_ms(), rec.rollout().started_unix_ms());
  std::string summary;
  if (job.kind() == jobpb::BATCH) {
    summary = absl::StrCat("==> ", name_, ": ", fresh ? js.succeeded() : 0, "/",
                           job.batch().completions(), " completed, ", placed,
                           " placed");
  } else {
    summary =
        absl::StrCat("==> ", name_, ": ", placed, "/", job.replicas(),
                     " placed, ", healthy, "/", job.replicas(), " healthy");
  }
  if (summary != summary_) {
    lines->push_back(summary);
    summary_ = summary;
  }

  if (job.kind() == jobpb::BATCH) {
    if (fresh && js.state() == jobpb::JobStatus::COMPLETE) {
      return Settle(Verdict::kDone, "complete");
    }
    if (fresh && js.state() == jobpb::JobStatus::FAILED) {
      std::string why = js.explanation().empty() ? "failed" : js.explanation();
      const schedpb::AllocationView* last = nullptr;
      for (const schedpb::AllocationView* v : current) {
        if (TaskFailed(*v) &&
            (last == nullptr || v->alloc().outcome().finish_unix_ms() >=
                                    last->alloc().outcome().finish_unix_ms())) {
          last = v;
        }
      }
      if (last != nullptr) {
        absl::StrAppend(&why, "; last task failure: ", FailureReason(*last));
      }
      return Settle(Verdict::kFailed, why);
    }
    return Verdict::kWaiting;
  }
  // Services: a failing task fails the run, as a failed deployment does.
  for (const schedpb::AllocationView* v : current) {
    if (TaskFailed(*v)) {
      return Settle(Verdict::kFailed,
                    absl::StrCat("alloc ", v->alloc().id(),
                                 " failed: ", FailureReason(*v)));
    }
  }
  if (rec.rollout().rolling_back()) {
    return Settle(Verdict::kFailed,
                  absl::StrCat("rolled back: ", rec.rollout().reason()));
  }
  if (healthy >= job.replicas()) {
    return Settle(Verdict::kDone, absl::StrCat("running, ", healthy, "/",
                                               job.replicas(), " healthy"));
  }
  return Verdict::kWaiting;
}

}  // namespace berth::cli
