#include "lockservice/server/sm_snapshot_source.h"

#include <sqlite3.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "lockservice/server/sm_schema.h"

namespace berth::lock {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;
struct FinalizeStmt {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

absl::Status DbError(sqlite3* db, int rc, absl::string_view what) {
  return absl::InternalError(absl::StrCat("snapshot image: ", what, ": ",
                                          sqlite3_errmsg(db), " (",
                                          sqlite3_errstr(rc), ")"));
}

absl::StatusOr<StmtPtr> PrepareOn(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  if (rc != SQLITE_OK) return DbError(db, rc, sql);
  return StmtPtr(st);
}

absl::Status ExecOn(sqlite3* db, const std::string& sql) {
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return DbError(db, rc, sql);
  return absl::OkStatus();
}

std::string QuoteIdent(absl::string_view name) {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

// Copies every row of `table` from src (inside its read transaction) to dst.
absl::Status CopyRows(sqlite3* src, sqlite3* dst, const std::string& table) {
  absl::StatusOr<StmtPtr> sel =
      PrepareOn(src, absl::StrCat("SELECT * FROM main.", QuoteIdent(table)));
  if (!sel.ok()) return sel.status();
  const int cols = sqlite3_column_count(sel->get());
  std::string sql =
      absl::StrCat("INSERT INTO ", QuoteIdent(table), " VALUES (");
  for (int i = 0; i < cols; ++i) absl::StrAppend(&sql, i ? ",?" : "?");
  sql += ")";
  absl::StatusOr<StmtPtr> ins = PrepareOn(dst, sql);
  if (!ins.ok()) return ins.status();
  int rc;
  while ((rc = sqlite3_step(sel->get())) == SQLITE_ROW) {
    for (int i = 0; i < cols; ++i) {
      sqlite3_bind_value(ins->get(), i + 1,
                         sqlite3_column_value(sel->get(), i));
    }
    int wrc = sqlite3_step(ins->get());
    if (wrc != SQLITE_DONE) return DbError(dst, wrc, sql);
    sqlite3_reset(ins->get());
  }
  if (rc != SQLITE_DONE) return DbError(src, rc, table);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SnapshotSource>> SnapshotSource::Open(
    const std::string& path) {
  absl::StatusOr<std::unique_ptr<SmDb>> db = SmDb::Open(path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<SnapshotSource>(new SnapshotSource(std::move(*db)));
}

absl::StatusOr<uint64_t> SnapshotSource::Pin() {
  if (pinned_) {
    return absl::FailedPreconditionError("snapshot source: already pinned");
  }
  if (absl::Status s = db_->Exec("BEGIN"); !s.ok()) return s;
  // A deferred transaction takes its read mark at the first read: this one.
  absl::StatusOr<SmStmt*> q =
      db_->Prepare("SELECT value FROM sm_meta WHERE name = ?1");
  if (!q.ok()) {
    db_->Rollback();
    return q.status();
  }
  (*q)->Bind(1, meta::kAppliedIndex);
  absl::StatusOr<bool> row = (*q)->Step();
  if (!row.ok()) {
    (*q)->Reset();
    db_->Rollback();
    return row.status();
  }
  const uint64_t applied = *row ? static_cast<uint64_t>((*q)->Int(0)) : 0;
  (*q)->Reset();
  pinned_ = true;
  return applied;
}

void SnapshotSource::Unpin() {
  if (!pinned_) return;
  db_->ResetAll();
  (void)db_->Exec("ROLLBACK");
  pinned_ = false;
}

absl::StatusOr<std::string> SnapshotSource::Build() {
  if (!pinned_) {
    return absl::FailedPreconditionError("snapshot source: nothing pinned");
  }
  absl::StatusOr<std::string> image = Copy();
  Unpin();
  return image;
}

absl::StatusOr<std::string> SnapshotSource::Copy() {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(
      ":memory:", &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  DbPtr dst(raw);
  if (rc != SQLITE_OK) return DbError(raw, rc, "open in-memory image");
  if (absl::Status s = ExecOn(dst.get(), "BEGIN"); !s.ok()) return s;
  absl::StatusOr<StmtPtr> tables = PrepareOn(
      db_->raw(),
      "SELECT name, sql FROM main.sqlite_master WHERE type = 'table' AND "
      "name LIKE 'sm\\_%' ESCAPE '\\' ORDER BY name");
  if (!tables.ok()) return tables.status();
  std::vector<std::pair<std::string, std::string>> schema;
  while ((rc = sqlite3_step(tables->get())) == SQLITE_ROW) {
    schema.emplace_back(
        reinterpret_cast<const char*>(sqlite3_column_text(tables->get(), 0)),
        reinterpret_cast<const char*>(sqlite3_column_text(tables->get(), 1)));
  }
  if (rc != SQLITE_DONE) return DbError(db_->raw(), rc, "list sm_ tables");
  tables->reset();
  for (const auto& [name, ddl] : schema) {
    if (absl::Status s = ExecOn(dst.get(), ddl); !s.ok()) return s;
    if (absl::Status s = CopyRows(db_->raw(), dst.get(), name); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = ExecOn(dst.get(), "COMMIT"); !s.ok()) return s;
  sqlite3_int64 size = 0;
  unsigned char* bytes = sqlite3_serialize(dst.get(), "main", &size, 0);
  if (bytes == nullptr) {
    return absl::ResourceExhaustedError(
        "snapshot image: cannot serialize the in-memory copy");
  }
  std::string image(reinterpret_cast<const char*>(bytes),
                    static_cast<size_t>(size));
  sqlite3_free(bytes);
  return image;
}

}  // namespace berth::lock
