// StateMachine: the database size, the NOSPACE alarm and defragmentation.
//
// The alarm is replicated state, not a local reading: the leader compares
// its own file with --quota-backend-bytes and records AlarmCmd in the log,
// and every replica then refuses the same commands at the same index (a
// check against each replica's own file size while applying would let
// replicas whose files differ in free pages disagree on a write).
#include <sqlite3.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lockservice/server/sm_schema.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock {
namespace {

std::string HumanBytes(int64_t n) {
  if (n >= (int64_t{1} << 30)) {
    return absl::StrFormat("%.2f GiB", n / double(int64_t{1} << 30));
  }
  if (n >= (1 << 20)) return absl::StrFormat("%.1f MiB", n / double(1 << 20));
  if (n >= (1 << 10)) return absl::StrFormat("%.1f KiB", n / double(1 << 10));
  return absl::StrCat(n, " bytes");
}

bool TxnGrows(const lockpb::TxnRequest& txn) {
  for (const auto* ops : {&txn.success(), &txn.failure()}) {
    for (const lockpb::RequestOp& op : *ops) {
      if (op.has_request_put()) return true;
    }
  }
  return false;
}

// Commands that add rows: refused under the alarm. Deletes, revokes,
// unlocks, keepalives, expiries and compaction shrink or keep the size and
// stay allowed, so an operator can always make room.
bool GrowsDatabase(const lockpb::Command& cmd) {
  switch (cmd.op_case()) {
    case lockpb::Command::kPut:
    case lockpb::Command::kLeaseGrant:
    case lockpb::Command::kLockAcquire:
    case lockpb::Command::kProclaim:
      return true;
    case lockpb::Command::kTxn:
      return TxnGrows(cmd.txn());
    default:
      return false;
  }
}

absl::StatusOr<int64_t> Pragma(SmDb& db, const char* name) {
  absl::StatusOr<SmStmt*> st = db.Prepare(absl::StrCat("PRAGMA ", name));
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  int64_t v = *row ? (*st)->Int(0) : 0;
  (*st)->Reset();
  return v;
}

}  // namespace

absl::Status StateMachine::CheckQuota(const lockpb::Command& cmd) const {
  if (!alarm_.active() || !GrowsDatabase(cmd)) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "database space exceeded (alarm NOSPACE): replica ", alarm_.member_id(),
      " measured ", HumanBytes(alarm_.db_size_bytes()), " against a quota of ",
      HumanBytes(alarm_.quota_bytes()),
      " (--quota-backend-bytes); writes that grow the database are refused, "
      "reads, deletes, lease revoke, unlock and compaction still work. Free "
      "space: compact the history and run `berth cluster defrag`, or raise "
      "--quota-backend-bytes"));
}

absl::Status StateMachine::ApplyAlarm(const lockpb::AlarmCmd& cmd) {
  if (cmd.active() && (cmd.quota_bytes() <= 0 || cmd.db_size_bytes() < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("alarm: quota_bytes must be > 0 and db_size_bytes >= 0, "
                     "got ",
                     cmd.quota_bytes(), " and ", cmd.db_size_bytes()));
  }
  for (auto [name, value] :
       {std::pair{meta::kAlarmNoSpace, int64_t{cmd.active() ? 1 : 0}},
        std::pair{meta::kAlarmDbSize, cmd.active() ? cmd.db_size_bytes() : 0},
        std::pair{meta::kAlarmQuota, cmd.active() ? cmd.quota_bytes() : 0},
        std::pair{meta::kAlarmMember,
                  cmd.active() ? static_cast<int64_t>(cmd.member_id()) : 0}}) {
    if (absl::Status s = SetMeta(*db_, name, value); !s.ok()) return s;
  }
  alarm_.Clear();
  if (cmd.active()) alarm_ = cmd;
  return absl::OkStatus();
}

absl::StatusOr<StateMachine::DbSize> StateMachine::DatabaseSize() {
  absl::StatusOr<int64_t> pages = Pragma(*db_, "page_count");
  absl::StatusOr<int64_t> free = Pragma(*db_, "freelist_count");
  absl::StatusOr<int64_t> page_size = Pragma(*db_, "page_size");
  for (const auto* s : {&pages, &free, &page_size}) {
    if (!s->ok()) return s->status();
  }
  DbSize out;
  out.total_bytes = *pages * *page_size;
  out.in_use_bytes = (*pages - *free) * *page_size;
  return out;
}

absl::StatusOr<bool> StateMachine::DefragmentStep(int64_t max_pages) {
  if (db_->InTransaction()) {
    return absl::UnavailableError(
        "defragment: an apply batch is open on this replica; retry");
  }
  db_->ResetAll();
  absl::StatusOr<int64_t> mode = Pragma(*db_, "auto_vacuum");
  if (!mode.ok()) return mode.status();
  if (*mode != 2) {
    // A file from before incremental auto-vacuum: one full VACUUM, which
    // also converts it (the replica is blocked meanwhile).
    absl::Status s = db_->Exec("PRAGMA auto_vacuum=INCREMENTAL; VACUUM");
    db_->ResetAll();
    if (!s.ok()) return s;
  } else {
    absl::Status s = db_->Exec(absl::StrCat(
        "PRAGMA incremental_vacuum(", std::max<int64_t>(max_pages, 1), ")"));
    db_->ResetAll();
    if (!s.ok()) return s;
  }
  absl::StatusOr<int64_t> free = Pragma(*db_, "freelist_count");
  if (!free.ok()) return free.status();
  if (*free != 0) return false;
  // The file itself shrinks when the WAL is checkpointed; do it now so the
  // space shows up on disk (best effort: a busy reader only delays it).
  (void)db_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
  db_->ResetAll();
  return true;
}

}  // namespace berth::lock
