#include "scheduler/cron/engine_txn.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "scheduler/state/keys.h"

namespace berth::cron::internal {
namespace {

using sched::StoreCond;
using sched::StoreOp;
using sched::Versioned;

bool Terminal(agentpb::AllocState s) {
  return s == agentpb::EXITED || s == agentpb::FAILED ||
         s == agentpb::OOM_KILLED || s == agentpb::KILLED || s == agentpb::LOST;
}

RunEnd EndFromStatus(const agentpb::AllocationStatus& s) {
  RunEnd end;
  end.node = s.node();
  end.start_unix_ms = s.start_unix_ms();
  end.finish_unix_ms = s.finish_unix_ms();
  end.exit_code = s.exit_code();
  end.attempts = static_cast<int32_t>(s.attempt()) + 1;
  if (s.state() == agentpb::EXITED && s.exit_code() == 0) {
    end.result = jobpb::CronRun::SUCCEEDED;
    return end;
  }
  end.result = jobpb::CronRun::FAILED;
  switch (s.state()) {
    case agentpb::EXITED:
      end.reason = absl::StrCat("exited with code ", s.exit_code());
      break;
    case agentpb::KILLED:
      end.reason = absl::StrCat("killed by signal ", s.signal());
      break;
    case agentpb::OOM_KILLED:
      end.reason = "oom_killed";
      break;
    default:
      end.reason = s.reason().empty() ? "failed" : s.reason();
  }
  return end;
}

std::string Serialize(const google::protobuf::Message& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

}  // namespace

bool IsLiveCron(const jobpb::JobRecord* rec) {
  return rec != nullptr && rec->job().kind() == jobpb::CRON && !rec->stopped();
}

bool HasActiveRun(const JobView& view) {
  if (view.runs == nullptr) return false;
  for (const auto& [tick, run] : *view.runs) {
    if (run.value.result() == jobpb::CronRun::ACTIVE) return true;
  }
  return false;
}

JobView ViewOf(const sched::ClusterState& state, const sched::JobId& id) {
  const sched::ClusterState::JobRefs refs = state.FindJobRefs(id);
  JobView v;
  v.id = id;
  v.record = refs.record == nullptr ? nullptr : &refs.record->value;
  v.marker = refs.marker;
  v.runs = refs.runs;
  return v;
}

int64_t MarkerTick(const JobView& view) {
  if (view.marker != nullptr) return view.marker->value.last_scheduled_unix();
  int64_t ms = view.record == nullptr ? 0 : view.record->submit_unix_ms();
  return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

std::optional<RunEnd> FinishedRun(const sched::ClusterState& state,
                                  const jobpb::CronRun& run,
                                  const jobpb::JobRecord* record,
                                  int64_t now_ms) {
  const agentpb::AllocationStatus* status = state.FindStatus(run.alloc_id());
  auto it = state.allocs().find(run.alloc_id());
  if (it == state.allocs().end()) {
    if (status != nullptr && Terminal(status->state())) {
      return EndFromStatus(*status);
    }
    RunEnd end;
    end.reason = "allocation record deleted before the run finished";
    end.finish_unix_ms = now_ms;
    return end;
  }
  const jobpb::Allocation& a = it->second.value;
  const bool timed_out = absl::StartsWith(a.stop_reason(), "timeout");
  if (a.outcome().state() != jobpb::AllocOutcome::STATE_UNSPECIFIED) {
    const jobpb::AllocOutcome& o = a.outcome();
    RunEnd end;
    end.node = o.node().empty() ? a.node() : o.node();
    end.start_unix_ms = o.start_unix_ms();
    end.finish_unix_ms = o.finish_unix_ms() > 0 ? o.finish_unix_ms() : now_ms;
    end.exit_code = o.exit_code();
    end.attempts = a.attempt() + 1;
    end.result = o.state() == jobpb::AllocOutcome::SUCCEEDED && !timed_out
                     ? jobpb::CronRun::SUCCEEDED
                     : jobpb::CronRun::FAILED;
    if (end.result == jobpb::CronRun::FAILED) {
      end.reason =
          timed_out || o.reason().empty() ? a.stop_reason() : o.reason();
      if (end.reason.empty()) end.reason = "failed";
    }
    return end;
  }
  if (status == nullptr || !Terminal(status->state()) ||
      status->attempt() < a.attempt()) {
    return std::nullopt;
  }
  // A terminal status is final unless the reconciler may still retry the
  // same tick (restart policy); then it records alloc.outcome when done.
  const bool retries =
      record != nullptr &&
      record->job().task().restart().policy() != jobpb::RestartPolicy::NEVER &&
      record->job().task().restart().policy() !=
          jobpb::RestartPolicy::POLICY_UNSPECIFIED;
  const bool stopping = a.desired_state() != jobpb::Allocation::RUN;
  RunEnd end = EndFromStatus(*status);
  if (retries && !stopping && end.result != jobpb::CronRun::SUCCEEDED) {
    return std::nullopt;
  }
  if (timed_out) {
    end.result = jobpb::CronRun::FAILED;
    end.reason = a.stop_reason();
  }
  if (end.node.empty()) end.node = a.node();
  return end;
}

std::vector<const Versioned<jobpb::CronRun>*> ActiveRuns(
    const sched::ClusterState& state, const JobView& view, int64_t now_ms) {
  std::vector<const Versioned<jobpb::CronRun>*> out;
  if (view.runs == nullptr) return out;
  for (const auto& [tick, run] : *view.runs) {
    if (run.value.result() != jobpb::CronRun::ACTIVE) continue;
    if (FinishedRun(state, run.value, view.record, now_ms)) continue;
    out.push_back(&run);
  }
  return out;
}

void AddMarkerCond(const JobView& view, sched::StoreTxn* txn) {
  std::string key = sched::CronMarkerKey(view.id.first, view.id.second);
  txn->conds.push_back(
      view.marker == nullptr
          ? StoreCond::Absent(std::move(key))
          : StoreCond::ModRevision(std::move(key), view.marker->mod_revision));
}

void PutMarker(const JobView& view, bool advance, int64_t tick, int64_t claimed,
               int64_t skipped, int64_t missed, sched::StoreTxn* txn,
               const std::function<void(jobpb::CronMarker*)>& edit) {
  jobpb::CronMarker m;
  if (view.marker != nullptr) m = view.marker->value;
  if (view.marker == nullptr) m.set_last_scheduled_unix(MarkerTick(view));
  if (advance) m.set_last_scheduled_unix(tick);
  m.set_claimed(m.claimed() + claimed);
  m.set_skipped(m.skipped() + skipped);
  m.set_missed(m.missed() + missed);
  if (edit) edit(&m);
  txn->ops.push_back(StoreOp::Put(
      sched::CronMarkerKey(view.id.first, view.id.second), Serialize(m)));
}

jobpb::CronRun PutNewRun(const JobView& view, const NewRun& nr,
                         sched::StoreTxn* txn) {
  const auto& [ns, name] = view.id;
  jobpb::CronRun run;
  run.set_job(name);
  run.set_namespace_(ns);
  run.set_tick_unix(nr.tick);
  run.set_result(nr.result);
  run.set_claimed_unix_ms(nr.now_ms);
  run.set_claimed_by(nr.scheduler_id);
  run.set_manual(nr.manual);
  run.set_reason(nr.reason);
  std::string run_key = sched::CronRunKey(ns, name, nr.tick);
  txn->conds.push_back(StoreCond::Absent(run_key));
  if (nr.result == jobpb::CronRun::ACTIVE) {
    run.set_alloc_id(PutPendingAlloc(view, nr.tick, nr.now_ms, txn));
  } else {
    run.set_finished_unix_ms(nr.now_ms);
  }
  txn->ops.push_back(StoreOp::Put(std::move(run_key), Serialize(run)));
  return run;
}

std::string PutPendingAlloc(const JobView& view, int64_t tick, int64_t now_ms,
                            sched::StoreTxn* txn) {
  const auto& [ns, name] = view.id;
  std::string id = sched::CronAllocId(ns, name, tick);
  jobpb::Allocation a;
  a.set_id(id);
  a.set_job(name);
  a.set_namespace_(ns);
  a.set_desired_state(jobpb::Allocation::RUN);
  a.set_create_unix_ms(now_ms);
  a.set_cron_tick_unix(tick);
  if (view.record != nullptr) {
    *a.mutable_resources() = view.record->job().task().resources();
    a.set_priority(view.record->job().priority());
    a.set_job_version(view.record->job().spec_hash());
  }
  std::string alloc_key = sched::SchedAllocKey(id);
  txn->conds.push_back(StoreCond::Absent(alloc_key));
  txn->ops.push_back(StoreOp::Put(std::move(alloc_key), Serialize(a)));
  return id;
}

void StopReplaced(const sched::ClusterState& state,
                  const Versioned<jobpb::CronRun>& active, int64_t new_tick,
                  int64_t now_ms, sched::StoreTxn* txn) {
  const jobpb::CronRun& r = active.value;
  std::string reason = absl::StrCat("replaced by run ", new_tick);
  if (auto it = state.allocs().find(r.alloc_id()); it != state.allocs().end()) {
    jobpb::Allocation a = it->second.value;
    a.set_desired_state(jobpb::Allocation::STOP);
    a.set_stop_reason(reason);
    std::string key = sched::SchedAllocKey(r.alloc_id());
    txn->conds.push_back(StoreCond::ModRevision(key, it->second.mod_revision));
    txn->ops.push_back(StoreOp::Put(std::move(key), Serialize(a)));
  }
  jobpb::CronRun done = r;
  done.set_result(jobpb::CronRun::REPLACED);
  done.set_finished_unix_ms(now_ms);
  done.set_reason(reason);
  std::string key = sched::CronRunKey(r.namespace_(), r.job(), r.tick_unix());
  txn->conds.push_back(StoreCond::ModRevision(key, active.mod_revision));
  txn->ops.push_back(StoreOp::Put(std::move(key), Serialize(done)));
}

jobpb::CronRun PutFinished(const Versioned<jobpb::CronRun>& run,
                           const RunEnd& end, int64_t now_ms,
                           sched::StoreTxn* txn) {
  jobpb::CronRun done = run.value;
  done.set_result(end.result);
  // A success has no reason of its own; keep why the run started (a
  // catch-up on resume says so).
  if (!end.reason.empty() || end.result != jobpb::CronRun::SUCCEEDED) {
    done.set_reason(end.reason);
  }
  done.set_node(end.node);
  done.set_start_unix_ms(end.start_unix_ms);
  done.set_finished_unix_ms(end.finish_unix_ms > 0 ? end.finish_unix_ms
                                                   : now_ms);
  done.set_exit_code(end.exit_code);
  done.set_attempts(end.attempts);
  std::string key =
      sched::CronRunKey(done.namespace_(), done.job(), done.tick_unix());
  txn->conds.push_back(StoreCond::ModRevision(key, run.mod_revision));
  txn->ops.push_back(StoreOp::Put(std::move(key), Serialize(done)));
  return done;
}

std::vector<jobpb::CronRun> FinalizeFinished(const sched::ClusterState& state,
                                             const JobView& view,
                                             int64_t now_ms,
                                             sched::StoreTxn* txn) {
  std::vector<jobpb::CronRun> written;
  if (view.runs == nullptr) return written;
  for (const auto& [tick, run] : *view.runs) {
    if (run.value.result() != jobpb::CronRun::ACTIVE) continue;
    std::optional<RunEnd> end =
        FinishedRun(state, run.value, view.record, now_ms);
    if (end) written.push_back(PutFinished(run, *end, now_ms, txn));
    if (written.size() >= static_cast<size_t>(kMaxFinalizedPerTxn)) break;
  }
  return written;
}

bool StopTimedOut(const sched::ClusterState& state, const jobpb::CronRun& run,
                  int64_t timeout_ms, sched::StoreTxn* txn) {
  auto it = state.allocs().find(run.alloc_id());
  if (it == state.allocs().end()) return false;
  jobpb::Allocation a = it->second.value;
  if (a.desired_state() != jobpb::Allocation::RUN) return false;
  a.set_desired_state(jobpb::Allocation::STOP);
  a.set_stop_reason(
      absl::StrCat("timeout: ran longer than ", timeout_ms / 1000.0, "s"));
  std::string key = sched::SchedAllocKey(run.alloc_id());
  txn->conds.push_back(StoreCond::ModRevision(key, it->second.mod_revision));
  txn->ops.push_back(StoreOp::Put(std::move(key), Serialize(a)));
  return true;
}

int AppendTrim(const sched::ClusterState& state, const JobView& view,
               const std::vector<jobpb::CronRun>& written, int max_deletes,
               sched::StoreTxn* txn) {
  if (view.record == nullptr || view.runs == nullptr) return 0;
  const jobpb::CronPolicy& p = view.record->job().cron();
  // Three groups, each with its own limit, so a stream of forbid skips can
  // never push the last failure out of the history.
  auto group = [](jobpb::CronRun::Result r) {
    switch (r) {
      case jobpb::CronRun::SUCCEEDED:
        return 0;
      case jobpb::CronRun::FAILED:
      case jobpb::CronRun::REPLACED:
        return 1;
      case jobpb::CronRun::SKIPPED:
      case jobpb::CronRun::MISSED:
        return 2;
      default:
        return -1;
    }
  };
  const int64_t limits[3] = {
      p.successful_history_limit(), p.failed_history_limit(),
      std::max(p.successful_history_limit(), p.failed_history_limit())};
  // (claimed_ms, tick) newest first; nullptr = written by this txn.
  std::vector<std::tuple<int64_t, int64_t, const Versioned<jobpb::CronRun>*>>
      finished[3];
  std::set<int64_t> rewritten;
  for (const jobpb::CronRun& w : written) {
    rewritten.insert(w.tick_unix());
    if (int g = group(w.result()); g >= 0) {
      finished[g].emplace_back(w.claimed_unix_ms(), w.tick_unix(), nullptr);
    }
  }
  for (const auto& [tick, run] : *view.runs) {
    if (rewritten.contains(tick)) continue;
    if (int g = group(run.value.result()); g >= 0) {
      finished[g].emplace_back(run.value.claimed_unix_ms(), tick, &run);
    }
  }
  int budget = std::min<int>(
      max_deletes,
      (kTxnLimit - static_cast<int>(txn->conds.size() + txn->ops.size())) / 4);
  int deleted = 0;
  for (int g = 0; g < 3; ++g) {
    auto& list = finished[g];
    if (static_cast<int64_t>(list.size()) <= limits[g]) continue;
    std::sort(list.begin(), list.end(),
              [](const auto& a, const auto& b) { return a > b; });
    // Oldest first, so a partial trim removes the oldest.
    for (size_t i = list.size(); i-- > static_cast<size_t>(limits[g]);) {
      const Versioned<jobpb::CronRun>* run = std::get<2>(list[i]);
      if (run == nullptr || deleted >= budget) continue;
      const jobpb::CronRun& r = run->value;
      if (!r.alloc_id().empty()) {
        auto a = state.allocs().find(r.alloc_id());
        if (a != state.allocs().end()) {
          const agentpb::AllocationStatus* s = state.FindStatus(r.alloc_id());
          bool done = a->second.value.outcome().state() !=
                          jobpb::AllocOutcome::STATE_UNSPECIFIED ||
                      (s != nullptr && Terminal(s->state()));
          if (!done) continue;  // still stopping; trim it later
          std::string key = sched::SchedAllocKey(r.alloc_id());
          txn->conds.push_back(
              StoreCond::ModRevision(key, a->second.mod_revision));
          txn->ops.push_back(StoreOp::Delete(std::move(key)));
        }
      }
      std::string key =
          sched::CronRunKey(view.id.first, view.id.second, r.tick_unix());
      txn->conds.push_back(StoreCond::ModRevision(key, run->mod_revision));
      txn->ops.push_back(StoreOp::Delete(std::move(key)));
      ++deleted;
    }
  }
  return deleted;
}

}  // namespace berth::cron::internal
