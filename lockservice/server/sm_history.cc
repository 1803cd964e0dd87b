// StateMachine: compaction of the watch history (sm_events).
//
// A Compact command moves the compaction point at once, so every replica
// refuses reads below it from that index on, but deletes at most
// Limits::history_purge_step_rows events in its own apply. What is left
// below the point is invisible to reads and is deleted by later
// CompactCmd{purge_only} commands, which the leader proposes while
// history_purge_pending() is true. Every step deletes the oldest rows first,
// so the replicas' files stay identical after each index.
#include "absl/strings/str_cat.h"
#include "lockservice/server/sm_schema.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock {

absl::Status StateMachine::Compact(const lockpb::CompactCmd& cmd) {
  absl::StatusOr<int64_t> current = compact_revision();
  if (!current.ok()) return current.status();
  int64_t target = *current;
  if (!cmd.purge_only()) {
    const int64_t revision = cmd.revision();
    if (revision <= 0 || revision > revision_) {
      return absl::InvalidArgumentError(
          absl::StrCat("compaction revision must be in [1, ", revision_,
                       "] (the current revision), got ", revision));
    }
    if (revision <= *current) {
      return absl::FailedPreconditionError(
          absl::StrCat("history is already compacted to revision ", *current,
                       "; asked for ", revision));
    }
    if (absl::Status s = SetMeta(*db_, meta::kCompactRevision, revision);
        !s.ok()) {
      return s;
    }
    target = revision;
  }
  absl::StatusOr<bool> more =
      kv_.PurgeEventsBelow(target, options_.limits.history_purge_step_rows);
  if (!more.ok()) return more.status();
  // Set only once the transaction commits: a rolled-back apply must not
  // leave the flag ahead of the file. ApplyInTxn commits right after
  // Dispatch, and a failure there stops the replica, which reloads it.
  purge_pending_ = *more;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> StateMachine::HistoryEventCount() {
  return kv_.EventCount();
}

absl::Status StateMachine::LoadHistoryAndAlarm() {
  absl::StatusOr<int64_t> compacted = compact_revision();
  if (!compacted.ok()) return compacted.status();
  absl::StatusOr<bool> pending = kv_.HasEventsBelow(*compacted);
  if (!pending.ok()) return pending.status();
  purge_pending_ = *pending;
  absl::StatusOr<int64_t> active = GetMeta(*db_, meta::kAlarmNoSpace);
  absl::StatusOr<int64_t> size = GetMeta(*db_, meta::kAlarmDbSize);
  absl::StatusOr<int64_t> quota = GetMeta(*db_, meta::kAlarmQuota);
  absl::StatusOr<int64_t> member = GetMeta(*db_, meta::kAlarmMember);
  for (const auto* s : {&active, &size, &quota, &member}) {
    if (!s->ok()) return s->status();
  }
  alarm_.Clear();
  if (*active != 0) {
    alarm_.set_active(true);
    alarm_.set_db_size_bytes(*size);
    alarm_.set_quota_bytes(*quota);
    alarm_.set_member_id(static_cast<uint64_t>(*member));
  }
  return absl::OkStatus();
}

}  // namespace berth::lock
