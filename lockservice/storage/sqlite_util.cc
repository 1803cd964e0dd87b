#include "lockservice/storage/sqlite_util.h"

#include "absl/strings/str_cat.h"

namespace berth::storage {

namespace {

const char* CodeName(int rc) {
  switch (rc & 0xff) {
    case SQLITE_ERROR:
      return "SQLITE_ERROR";
    case SQLITE_PERM:
      return "SQLITE_PERM";
    case SQLITE_BUSY:
      return "SQLITE_BUSY";
    case SQLITE_LOCKED:
      return "SQLITE_LOCKED";
    case SQLITE_NOMEM:
      return "SQLITE_NOMEM";
    case SQLITE_READONLY:
      return "SQLITE_READONLY";
    case SQLITE_IOERR:
      return "SQLITE_IOERR";
    case SQLITE_CORRUPT:
      return "SQLITE_CORRUPT";
    case SQLITE_FULL:
      return "SQLITE_FULL";
    case SQLITE_CANTOPEN:
      return "SQLITE_CANTOPEN";
    case SQLITE_CONSTRAINT:
      return "SQLITE_CONSTRAINT";
    case SQLITE_MISUSE:
      return "SQLITE_MISUSE";
    case SQLITE_RANGE:
      return "SQLITE_RANGE";
    case SQLITE_NOTADB:
      return "SQLITE_NOTADB";
    default:
      return "SQLITE_?";
  }
}

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
      return absl::StatusCode::kInvalidArgument;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status Annotate(const absl::Status& s, absl::string_view what) {
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

std::string DbPath(sqlite3* db) {
  if (db == nullptr) return "";
  const char* f = sqlite3_db_filename(db, "main");
  return f == nullptr ? "" : f;
}

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  // sqlite3_errmsg describes the most recent failing call on this
  // connection; fall back to the generic text for the code otherwise.
  const char* msg = db != nullptr && sqlite3_errcode(db) != SQLITE_OK
                        ? sqlite3_errmsg(db)
                        : sqlite3_errstr(rc);
  return absl::Status(CodeFor(rc),
                      absl::StrCat(what, ": ", msg, " (", CodeName(rc), "/", rc,
                                   ") [", DbPath(db), "]"));
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return absl::Status(
      CodeFor(rc), absl::StrCat("exec \"", sql, "\": ", msg, " (", CodeName(rc),
                                "/", rc, ") [", DbPath(db), "]"));
}

absl::StatusOr<std::unique_ptr<Statement>> Statement::Prepare(sqlite3* db,
                                                              const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    return SqliteError(db, rc, absl::StrCat("prepare \"", sql, "\""));
  }
  return std::unique_ptr<Statement>(new Statement(db, stmt));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::BindInt(int i, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

void Statement::BindBlob(int i, absl::string_view v, bool static_until_reset) {
  // A zero-length blob must stay a blob, not NULL: pass a non-null pointer.
  static const char kEmpty = 0;
  const char* p = v.empty() ? &kEmpty : v.data();
  int rc = sqlite3_bind_blob64(
      stmt_, i, p, v.size(),
      static_until_reset ? SQLITE_STATIC : SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_error_ != SQLITE_OK) {
    int rc = bind_error_;
    bind_error_ = SQLITE_OK;
    return SqliteError(db_, rc,
                       absl::StrCat("bind \"", sqlite3_sql(stmt_), "\""));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc,
                     absl::StrCat("step \"", sqlite3_sql(stmt_), "\""));
}

absl::Status Statement::Run() {
  absl::StatusOr<bool> row = Step();
  Reset();
  if (!row.ok()) return row.status();
  if (*row) {
    return absl::InternalError(absl::StrCat("statement \"", sqlite3_sql(stmt_),
                                            "\" unexpectedly returned a row"));
  }
  return absl::OkStatus();
}

int64_t Statement::ColumnInt(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

absl::string_view Statement::ColumnBlob(int i) const {
  const void* p = sqlite3_column_blob(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  if (p == nullptr || n <= 0) return {};
  return absl::string_view(static_cast<const char*>(p), n);
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = SQLITE_OK;
}

absl::StatusOr<std::unique_ptr<Transaction>> Transaction::Begin(sqlite3* db) {
  // IMMEDIATE takes the write lock up front, so a busy database fails here
  // (after busy_timeout) rather than half-way through the batch.
  if (absl::Status s = Exec(db, "BEGIN IMMEDIATE"); !s.ok()) return s;
  return std::unique_ptr<Transaction>(new Transaction(db));
}

Transaction::~Transaction() {
  if (!done_) Rollback();
}

absl::Status Transaction::Commit() {
  done_ = true;
  absl::Status s = Exec(db_, "COMMIT");
  if (!s.ok()) Rollback();
  return s;
}

void Transaction::Rollback() {
  done_ = true;
  // After some errors (e.g. SQLITE_FULL during COMMIT) SQLite has already
  // rolled back; only issue ROLLBACK if a transaction is still open.
  if (sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

}  // namespace berth::storage
