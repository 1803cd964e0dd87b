#include "lockservice/server/sm_db.h"

#include "absl/strings/str_cat.h"

namespace berth::lock {

SmStmt::~SmStmt() { sqlite3_finalize(stmt_); }

SmStmt& SmStmt::Bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SmStmt& SmStmt::Bind(int i, absl::string_view blob) {
  // A null pointer would bind SQL NULL; an empty blob must stay a blob so
  // that comparisons against "" behave.
  const char* data = blob.data() != nullptr ? blob.data() : "";
  int rc = sqlite3_bind_blob64(stmt_, i, data, blob.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

absl::StatusOr<bool> SmStmt::Step() {
  if (bind_error_ != SQLITE_OK) {
    return absl::InternalError(absl::StrCat(
        "bind \"", sqlite3_sql(stmt_), "\": ", sqlite3_errstr(bind_error_)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return absl::InternalError(
      absl::StrCat("step \"", sqlite3_sql(stmt_), "\": ", sqlite3_errmsg(db_),
                   " [", sqlite3_db_filename(db_, "main"), "]"));
}

absl::Status SmStmt::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int64_t SmStmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string SmStmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n == 0) return std::string();
  return std::string(static_cast<const char*>(p), n);
}

bool SmStmt::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

void SmStmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = SQLITE_OK;
}

absl::StatusOr<std::unique_ptr<SmDb>> SmDb::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return absl::UnavailableError(
        absl::StrCat("open state machine db [", path, "]: ", msg));
  }
  std::unique_ptr<SmDb> db(new SmDb(raw, path));
  sqlite3_busy_timeout(raw, 10'000);
  // synchronous=NORMAL is enough here: the Raft log (written with FULL by the
  // storage) is the source of truth, and applying is idempotent, so losing
  // the last applied transactions in a power cut only means replaying them.
  absl::Status s = db->Exec(
      "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; "
      "PRAGMA synchronous=NORMAL; "
      "PRAGMA foreign_keys=OFF;");
  if (!s.ok()) return s;
  return db;
}

SmDb::~SmDb() {
  stmts_.clear();
  sqlite3_close_v2(db_);
}

absl::Status SmDb::Error(int rc, absl::string_view what) const {
  std::string msg = absl::StrCat(what, ": ", sqlite3_errmsg(db_), " (",
                                 sqlite3_errstr(rc), ") [", path_, "]");
  if (rc == SQLITE_FULL) return absl::ResourceExhaustedError(msg);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    return absl::UnavailableError(msg);
  }
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
    return absl::DataLossError(msg);
  }
  return absl::InternalError(msg);
}

absl::Status SmDb::Exec(absl::string_view sql) {
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("exec \"", sql, "\""));
  return absl::OkStatus();
}

absl::Status SmDb::ExecCached(absl::string_view sql) {
  absl::StatusOr<SmStmt*> st = Prepare(sql);
  if (!st.ok()) return st.status();
  absl::Status s = (*st)->Run();
  // A finished statement keeps no cursor, but reset it anyway so that a
  // later COMMIT or DETACH never finds it active.
  (*st)->Reset();
  return s;
}

absl::StatusOr<SmStmt*> SmDb::Prepare(absl::string_view sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) {
    SmStmt* out = it->second.get();
    out->Reset();
    if (!out->handed_out_) {
      out->handed_out_ = true;
      handed_out_.push_back(out);
    }
    return out;
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return Error(rc, absl::StrCat("prepare \"", sql, "\""));
  }
  auto owned = std::make_unique<SmStmt>(db_, stmt);
  SmStmt* out = owned.get();
  out->handed_out_ = true;
  handed_out_.push_back(out);
  stmts_.emplace(std::string(sql), std::move(owned));
  return out;
}

absl::Status SmDb::Begin() {
  if (batch_) return ExecCached("SAVEPOINT sm_entry");
  return Exec("BEGIN IMMEDIATE");
}
absl::Status SmDb::Commit() {
  if (batch_) return ExecCached("RELEASE sm_entry");
  ResetAll();
  return Exec("COMMIT");
}
void SmDb::Rollback() {
  ResetAll();
  if (!InTransaction()) return;
  const char* sql =
      batch_ ? "ROLLBACK TO sm_entry; RELEASE sm_entry" : "ROLLBACK";
  sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
}
absl::Status SmDb::BeginBatch() {
  if (batch_) return absl::FailedPreconditionError("apply batch already open");
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  batch_ = true;
  return absl::OkStatus();
}
void SmDb::AbortBatch() {
  batch_ = false;
  Rollback();
}
absl::Status SmDb::CommitBatch() {
  if (!batch_) return absl::FailedPreconditionError("no apply batch is open");
  batch_ = false;
  ResetAll();
  absl::Status s = Exec("COMMIT");
  if (!s.ok()) Rollback();
  return s;
}
void SmDb::ResetAll() {
  for (SmStmt* stmt : handed_out_) {
    stmt->Reset();
    stmt->handed_out_ = false;
  }
  handed_out_.clear();
}
bool SmDb::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

}  // namespace berth::lock
