#include "lockservice/server/sm_schema.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace berth::lock {
namespace {

// Files created before the lease index became partial index every key,
// lease 0 included, so each put to a random key also rewrote a random page
// of that index. Rebuilt once, at open.
absl::Status PartialLeaseIndex(SmDb& db) {
  absl::StatusOr<SmStmt*> st = db.Prepare(
      "SELECT sql FROM main.sqlite_master WHERE type = 'index' AND "
      "name = 'sm_kv_by_lease'");
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  const bool partial = *row && absl::StrContains((*st)->Blob(0), "WHERE");
  (*st)->Reset();
  if (partial) return absl::OkStatus();
  absl::Status s = db.Exec(
      "BEGIN; DROP INDEX IF EXISTS main.sm_kv_by_lease; "
      "CREATE INDEX main.sm_kv_by_lease ON sm_kv(lease) WHERE lease != 0; "
      "COMMIT;");
  if (!s.ok()) (void)db.Exec("ROLLBACK");
  return s;
}

}  // namespace

absl::Status CreateSmSchema(SmDb& db, absl::string_view schema) {
  // Keys, values and lock names are BLOBs so that ranges compare bytewise
  // (memcmp), as etcd does.
  constexpr absl::string_view kDdl = R"sql(
CREATE TABLE IF NOT EXISTS S.sm_meta(
  name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS S.sm_kv(
  key BLOB PRIMARY KEY, value BLOB NOT NULL, create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL, version INTEGER NOT NULL,
  lease INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS S.sm_kv_by_lease ON sm_kv(lease) WHERE lease != 0;
CREATE TABLE IF NOT EXISTS S.sm_events(
  rev INTEGER NOT NULL, seq INTEGER NOT NULL, key BLOB NOT NULL,
  event BLOB NOT NULL, PRIMARY KEY(rev, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS S.sm_leases(
  id INTEGER PRIMARY KEY, ttl_ms INTEGER NOT NULL,
  granted_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS S.sm_locks(
  name BLOB PRIMARY KEY, holder_lease INTEGER NOT NULL,
  token INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
  lock_delay_ms INTEGER NOT NULL, delay_until_ms INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS S.sm_locks_by_key ON sm_locks(key);
CREATE TABLE IF NOT EXISTS S.sm_waiters(
  seq INTEGER PRIMARY KEY, name BLOB NOT NULL, lease INTEGER NOT NULL,
  value BLOB NOT NULL, wait_deadline_ms INTEGER NOT NULL,
  lock_delay_ms INTEGER NOT NULL, request_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS S.sm_waiters_by_name ON sm_waiters(name, seq);
CREATE INDEX IF NOT EXISTS S.sm_waiters_by_lease ON sm_waiters(lease);
CREATE TABLE IF NOT EXISTS S.sm_clients(
  id INTEGER PRIMARY KEY, floor INTEGER NOT NULL, last_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS S.sm_clients_by_last ON sm_clients(last_ms, id);
CREATE TABLE IF NOT EXISTS S.sm_client_replies(
  client INTEGER NOT NULL, seq INTEGER NOT NULL, code INTEGER NOT NULL,
  message BLOB NOT NULL, result BLOB NOT NULL, PRIMARY KEY(client, seq))
  WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS S.sm_auth_users(
  name BLOB PRIMARY KEY, added_index INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS S.sm_auth_roles(
  name BLOB PRIMARY KEY, added_index INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS S.sm_auth_user_roles(
  user BLOB NOT NULL, role BLOB NOT NULL, PRIMARY KEY(user, role))
  WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS S.sm_auth_perms(
  role BLOB NOT NULL, prefix BLOB NOT NULL, perms INTEGER NOT NULL,
  PRIMARY KEY(role, prefix)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS S.sm_auth_audit(
  idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, who BLOB NOT NULL,
  what BLOB NOT NULL, result BLOB NOT NULL);
)sql";
  std::string ddl =
      absl::StrReplaceAll(kDdl, {{"S.", absl::StrCat(schema, ".")}});
  if (absl::Status s = db.Exec(ddl); !s.ok()) return s;
  return schema == "main" ? PartialLeaseIndex(db) : absl::OkStatus();
}

absl::StatusOr<int64_t> GetMeta(SmDb& db, absl::string_view name) {
  absl::StatusOr<SmStmt*> st =
      db.Prepare("SELECT value FROM sm_meta WHERE name = ?");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, name);
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  int64_t v = *row ? (*st)->Int(0) : 0;
  (*st)->Reset();
  return v;
}

absl::Status SetMeta(SmDb& db, absl::string_view name, int64_t value) {
  absl::StatusOr<SmStmt*> st = db.Prepare(
      "INSERT INTO sm_meta(name, value) VALUES(?, ?) "
      "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
  if (!st.ok()) return st.status();
  return (*st)->Bind(1, name).Bind(2, value).Run();
}

}  // namespace berth::lock
