// StateMachine: row counts for the metrics endpoint (lockd_metrics.cc).
#include "absl/strings/str_cat.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock {
namespace {

absl::StatusOr<int64_t> Count(SmDb& db, absl::string_view sql) {
  absl::StatusOr<SmStmt*> st = db.Prepare(sql);
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) {
    (*st)->Reset();
    return row.status();
  }
  int64_t n = *row ? (*st)->Int(0) : 0;
  (*st)->Reset();
  return n;
}

}  // namespace

absl::StatusOr<StateMachine::RowCounts> StateMachine::CountRows() {
  absl::StatusOr<int64_t> leases =
      Count(*db_, "SELECT COUNT(*) FROM sm_leases");
  // A released lock keeps its row (holder 0) while its lock-delay runs.
  absl::StatusOr<int64_t> held =
      Count(*db_, "SELECT COUNT(*) FROM sm_locks WHERE holder_lease != 0");
  absl::StatusOr<int64_t> waiters =
      Count(*db_, "SELECT COUNT(*) FROM sm_waiters");
  for (const auto* s : {&leases, &held, &waiters}) {
    if (!s->ok()) return s->status();
  }
  return RowCounts{*leases, *held, *waiters};
}

}  // namespace berth::lock
