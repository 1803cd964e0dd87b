#include "lockservice/server/lock_table.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lockservice/server/kv_store.h"

namespace berth::lock {
namespace {

// Column order of ReadLock; the statements below spell it out so that their
// text is a constant (no string is built per call on the apply path).
constexpr absl::string_view kLockCols =
    "name, holder_lease, token, key, value, lock_delay_ms, delay_until_ms";

LockRecord ReadLock(const SmStmt& st) {
  return LockRecord{st.Blob(0), st.Int(1), st.Int(2), st.Blob(3),
                    st.Blob(4), st.Int(5), st.Int(6)};
}

}  // namespace

std::string HolderKey(absl::string_view name, int64_t lease) {
  return absl::StrFormat("%s/%016x", name, static_cast<uint64_t>(lease));
}

absl::StatusOr<std::optional<LockRecord>> LockTable::Get(
    absl::string_view name) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT name, holder_lease, token, key, value, lock_delay_ms, "
      "delay_until_ms FROM sm_locks WHERE name = ?");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, name);
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  std::optional<LockRecord> out;
  if (*row) out = ReadLock(**st);
  (*st)->Reset();
  return out;
}

absl::Status LockTable::Upsert(const LockRecord& l) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "INSERT OR REPLACE INTO sm_locks(name, holder_lease, token, key, "
      "value, lock_delay_ms, delay_until_ms) VALUES(?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  return (*st)
      ->Bind(1, l.name)
      .Bind(2, l.holder_lease)
      .Bind(3, l.token)
      .Bind(4, l.key)
      .Bind(5, l.value)
      .Bind(6, l.lock_delay_ms)
      .Bind(7, l.delay_until_ms)
      .Run();
}

absl::Status LockTable::Delete(absl::string_view name) {
  absl::StatusOr<SmStmt*> st =
      db_->Prepare("DELETE FROM sm_locks WHERE name = ?");
  if (!st.ok()) return st.status();
  return (*st)->Bind(1, name).Run();
}

absl::StatusOr<std::optional<LockRecord>> LockTable::HolderKeyIn(
    absl::string_view key, absl::string_view range_end) {
  RangeSql w = RangeWhere(key, range_end);
  // Every Put asks about its single key: that statement's text is a
  // constant, so the cache lookup builds no string.
  absl::StatusOr<SmStmt*> st =
      range_end.empty()
          ? db_->Prepare(
                "SELECT name, holder_lease, token, key, value, lock_delay_ms, "
                "delay_until_ms FROM sm_locks WHERE holder_lease != 0 AND "
                "key = ? ORDER BY key LIMIT 1")
          : db_->Prepare(absl::StrCat("SELECT ", kLockCols,
                                      " FROM sm_locks WHERE holder_lease != 0 "
                                      "AND ",
                                      w.where, " ORDER BY key LIMIT 1"));
  if (!st.ok()) return st.status();
  for (size_t i = 0; i < w.params.size(); ++i) (*st)->Bind(i + 1, w.params[i]);
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  std::optional<LockRecord> out;
  if (*row) out = ReadLock(**st);
  (*st)->Reset();
  return out;
}

absl::StatusOr<std::vector<LockRecord>> LockTable::HeldBy(int64_t lease) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT name, holder_lease, token, key, value, lock_delay_ms, "
      "delay_until_ms FROM sm_locks WHERE holder_lease = ? ORDER BY name");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, lease);
  std::vector<LockRecord> out;
  while (true) {
    absl::StatusOr<bool> row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadLock(**st));
  }
  (*st)->Reset();
  return out;
}

absl::StatusOr<int64_t> LockTable::AddWaiter(const WaiterRecord& w) {
  maybe_waiters_ = true;
  // Explicit max+1 (not rowid allocation) keeps sequence numbers a pure
  // function of the table contents, so replicas agree.
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "INSERT INTO sm_waiters(seq, name, lease, value, wait_deadline_ms, "
      "lock_delay_ms, request_id) "
      "VALUES((SELECT COALESCE(MAX(seq), 0) + 1 FROM sm_waiters), "
      "?, ?, ?, ?, ?, ?) RETURNING seq");
  if (!st.ok()) return st.status();
  (*st)
      ->Bind(1, w.name)
      .Bind(2, w.lease)
      .Bind(3, w.value)
      .Bind(4, w.wait_deadline_ms)
      .Bind(5, w.lock_delay_ms)
      .Bind(6, static_cast<int64_t>(w.request_id));
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  int64_t seq = (*st)->Int(0);
  absl::Status done = (*st)->Run();
  if (!done.ok()) return done;
  return seq;
}

absl::StatusOr<std::vector<WaiterRecord>> LockTable::ReadWaiters(SmStmt* st) {
  std::vector<WaiterRecord> out;
  while (true) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(WaiterRecord{st->Int(0), st->Blob(1), st->Int(2), st->Blob(3),
                               st->Int(4), st->Int(5),
                               static_cast<uint64_t>(st->Int(6))});
  }
  st->Reset();
  return out;
}

absl::StatusOr<std::vector<WaiterRecord>> LockTable::Waiters(
    absl::string_view name) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT seq, name, lease, value, wait_deadline_ms, lock_delay_ms, "
      "request_id FROM sm_waiters WHERE name = ? ORDER BY seq");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, name);
  return ReadWaiters(*st);
}

absl::StatusOr<std::vector<WaiterRecord>> LockTable::WaitersOfLease(
    int64_t lease) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT seq, name, lease, value, wait_deadline_ms, lock_delay_ms, "
      "request_id FROM sm_waiters WHERE lease = ? ORDER BY seq");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, lease);
  return ReadWaiters(*st);
}

absl::Status LockTable::DeleteWaiter(int64_t seq) {
  absl::StatusOr<SmStmt*> st =
      db_->Prepare("DELETE FROM sm_waiters WHERE seq = ?");
  if (!st.ok()) return st.status();
  return (*st)->Bind(1, seq).Run();
}

absl::StatusOr<bool> LockTable::HasWaiters() {
  if (!maybe_waiters_) return false;
  absl::StatusOr<SmStmt*> st =
      db_->Prepare("SELECT EXISTS(SELECT 1 FROM sm_waiters)");
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  maybe_waiters_ = (*st)->Int(0) != 0;
  (*st)->Reset();
  return maybe_waiters_;
}

absl::StatusOr<std::vector<std::string>> LockTable::GrantableNames(
    int64_t now_ms) {
  absl::StatusOr<bool> any = HasWaiters();
  if (!any.ok()) return any.status();
  if (!*any) return std::vector<std::string>();
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT DISTINCT w.name FROM sm_waiters w "
      "LEFT JOIN sm_locks l ON l.name = w.name "
      "WHERE l.name IS NULL OR (l.holder_lease = 0 AND l.delay_until_ms <= ?) "
      "ORDER BY w.name");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, now_ms);
  std::vector<std::string> out;
  while (true) {
    absl::StatusOr<bool> row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back((*st)->Blob(0));
  }
  (*st)->Reset();
  return out;
}

absl::StatusOr<int64_t> LockTable::NextDelayEnd() {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT COALESCE(MIN(l.delay_until_ms), 0) FROM sm_locks l "
      "WHERE l.holder_lease = 0 AND "
      "EXISTS (SELECT 1 FROM sm_waiters w WHERE w.name = l.name)");
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  int64_t v = (*st)->Int(0);
  (*st)->Reset();
  return v;
}

}  // namespace berth::lock
