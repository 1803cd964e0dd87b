#include "agent/store/alloc_record.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

constexpr std::array<std::pair<AllocState, absl::string_view>, 8> kNames = {{
    {AllocState::kPending, "pending"},
    {AllocState::kStarting, "starting"},
    {AllocState::kRunning, "running"},
    {AllocState::kExited, "exited"},
    {AllocState::kFailed, "failed"},
    {AllocState::kOomKilled, "oom_killed"},
    {AllocState::kKilled, "killed"},
    {AllocState::kLost, "lost"},
}};

bool SameTask(const std::optional<TaskRecord>& a,
              const std::optional<TaskRecord>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a.has_value()) return true;
  return a->alloc_id == b->alloc_id && a->pid == b->pid &&
         a->start_ticks == b->start_ticks && a->cgroup == b->cgroup &&
         a->started_at == b->started_at;
}

}  // namespace

absl::string_view AllocStateName(AllocState state) {
  for (const auto& [s, name] : kNames) {
    if (s == state) return name;
  }
  return "unknown";
}

absl::StatusOr<AllocState> ParseAllocState(absl::string_view name) {
  for (const auto& [s, n] : kNames) {
    if (n == name) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown allocation state \"", name, "\""));
}

bool IsTerminal(AllocState state) {
  switch (state) {
    case AllocState::kPending:
    case AllocState::kStarting:
    case AllocState::kRunning:
      return false;
    default:
      return true;
  }
}

void AllocRecord::SetExit(const ExitStatus& status) {
  exit_code = status.code;
  exit_signal = status.signal;
  exit_reason = status.reason;
  switch (status.kind) {
    case ExitStatus::Kind::kExited:
      state = AllocState::kExited;
      break;
    case ExitStatus::Kind::kKilled:
      state = AllocState::kKilled;
      break;
    case ExitStatus::Kind::kOomKilled:
      state = AllocState::kOomKilled;
      break;
    case ExitStatus::Kind::kFailed:
      state = AllocState::kFailed;
      break;
  }
}

bool operator==(const AllocRecord& a, const AllocRecord& b) {
  return a.alloc_id == b.alloc_id && a.job == b.job && a.spec == b.spec &&
         a.state == b.state && SameTask(a.task, b.task) &&
         a.exit_code == b.exit_code && a.exit_signal == b.exit_signal &&
         a.exit_reason == b.exit_reason && a.attempt == b.attempt &&
         a.start_time == b.start_time && a.finish_time == b.finish_time &&
         a.reported_revision == b.reported_revision;
}

}  // namespace berth::agent
