// Scheduler's lookups for berth job logs / berth alloc logs: which
// allocation to show and where its agent listens, from the mirror.
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "scheduler/server/scheduler.h"

namespace berth::sched {

absl::StatusOr<LogsTarget> Scheduler::FindLogsTarget(
    const schedpb::AllocLogsRequest& req) const {
  const std::string ns =
      req.namespace_().empty() ? "default" : req.namespace_();
  absl::MutexLock l(&mu_);
  if (absl::Status st = MirrorReadyLocked(); !st.ok()) return st;
  LogsTarget t;
  const jobpb::Allocation* alloc = nullptr;
  if (!req.alloc_id().empty()) {
    auto it = state_.allocs().find(req.alloc_id());
    if (it == state_.allocs().end()) {
      return absl::NotFoundError(
          absl::StrCat("allocation ", req.alloc_id(), " does not exist"));
    }
    alloc = &it->second.value;
    if (!req.job().empty() &&
        (alloc->job() != req.job() || alloc->namespace_() != ns)) {
      return absl::InvalidArgumentError(
          absl::StrCat("allocation ", req.alloc_id(), " belongs to job ",
                       alloc->namespace_(), "/", alloc->job(), ", not ", ns,
                       "/", req.job()));
    }
  } else {
    if (req.job().empty()) {
      return absl::InvalidArgumentError("name a job or an allocation");
    }
    if (state_.FindJob({ns, req.job()}) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("job ", ns, "/", req.job(), " does not exist"));
    }
    const std::vector<std::string> ids = state_.AllocsOf({ns, req.job()});
    t.job_allocations = static_cast<int>(ids.size());
    // The most recent allocation that reached a node: the one whose output
    // a user who just ran or restarted the job wants to see.
    for (const std::string& id : ids) {
      const jobpb::Allocation& a = state_.allocs().at(id).value;
      if (a.node().empty()) continue;
      if (alloc == nullptr || a.create_unix_ms() > alloc->create_unix_ms() ||
          (a.create_unix_ms() == alloc->create_unix_ms() &&
           a.id() > alloc->id())) {
        alloc = &a;
      }
    }
    if (alloc == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("job ", ns, "/", req.job(),
                       " has no allocation placed on a node yet (see berth "
                       "job status ",
                       req.job(), ")"));
    }
  }
  if (alloc->node().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("allocation ", alloc->id(), " is not placed on a node yet",
                     alloc->pending_reason().empty()
                         ? ""
                         : absl::StrCat(" (", alloc->pending_reason(), ")")));
  }
  t.alloc_id = alloc->id();
  t.node = alloc->node();
  return t;
}

std::optional<std::string> Scheduler::NodeAddress(
    const std::string& node) const {
  absl::MutexLock l(&mu_);
  auto it = state_.nodes().find(node);
  if (it == state_.nodes().end()) return std::nullopt;
  return it->second.address();
}

}  // namespace berth::sched
