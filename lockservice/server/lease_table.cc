#include "lockservice/server/lease_table.h"

#include <algorithm>

namespace berth::lock {
namespace {

LeaseRecord ReadLease(const SmStmt& st) {
  return LeaseRecord{st.Int(0), st.Int(1), st.Int(2), st.Int(3)};
}

absl::StatusOr<std::vector<LeaseRecord>> ReadAll(SmStmt* st) {
  std::vector<LeaseRecord> out;
  while (true) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadLease(*st));
  }
  st->Reset();
  return out;
}

}  // namespace

int64_t EffectiveDeadline(const LeaseRecord& lease, int64_t leader_since_ms,
                          int64_t grace_ms) {
  return std::max(lease.deadline_ms, leader_since_ms + lease.ttl_ms +
                                         std::max<int64_t>(grace_ms, 0));
}

absl::StatusOr<std::optional<LeaseRecord>> LeaseTable::Get(int64_t id) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT id, ttl_ms, granted_ms, deadline_ms FROM sm_leases WHERE id = ?");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, id);
  absl::StatusOr<std::vector<LeaseRecord>> rows = ReadAll(*st);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::nullopt;
  return rows->front();
}

absl::Status LeaseTable::Upsert(const LeaseRecord& lease) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "INSERT OR REPLACE INTO sm_leases(id, ttl_ms, granted_ms, deadline_ms) "
      "VALUES(?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  return (*st)
      ->Bind(1, lease.id)
      .Bind(2, lease.ttl_ms)
      .Bind(3, lease.granted_ms)
      .Bind(4, lease.deadline_ms)
      .Run();
}

absl::Status LeaseTable::Delete(int64_t id) {
  absl::StatusOr<SmStmt*> st =
      db_->Prepare("DELETE FROM sm_leases WHERE id = ?");
  if (!st.ok()) return st.status();
  return (*st)->Bind(1, id).Run();
}

absl::Status LeaseTable::Checkpoint(int64_t id, int64_t now_ms,
                                    int64_t remaining_ms) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "UPDATE sm_leases SET deadline_ms = ?2 + MIN(?3, ttl_ms) "
      "WHERE id = ?1 AND deadline_ms < ?2 + MIN(?3, ttl_ms)");
  if (!st.ok()) return st.status();
  return (*st)->Bind(1, id).Bind(2, now_ms).Bind(3, remaining_ms).Run();
}

absl::StatusOr<std::vector<LeaseRecord>> LeaseTable::List() {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT id, ttl_ms, granted_ms, deadline_ms FROM sm_leases ORDER BY id");
  if (!st.ok()) return st.status();
  return ReadAll(*st);
}

absl::StatusOr<std::vector<LeaseRecord>> LeaseTable::DeadlineBefore(
    int64_t before_ms) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT id, ttl_ms, granted_ms, deadline_ms FROM sm_leases "
      "WHERE deadline_ms <= ? ORDER BY deadline_ms, id");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, before_ms);
  return ReadAll(*st);
}

}  // namespace berth::lock
