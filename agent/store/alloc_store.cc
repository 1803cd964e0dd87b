#include "agent/store/alloc_store.h"

#include <sqlite3.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE allocs (
  alloc_id          TEXT PRIMARY KEY,
  job               TEXT NOT NULL,
  spec              BLOB NOT NULL,
  state             TEXT NOT NULL,
  task_pid          INTEGER,  -- NULL: no TaskRecord yet
  task_start_ticks  INTEGER,
  task_cgroup       TEXT,
  task_started_ns   INTEGER,
  exit_code         INTEGER NOT NULL,
  exit_signal       INTEGER NOT NULL,
  exit_reason       TEXT NOT NULL,
  attempt           INTEGER NOT NULL,
  start_ns          INTEGER,  -- NULL: not yet
  finish_ns         INTEGER,
  reported_revision INTEGER NOT NULL
);
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
)sql";

constexpr char kColumns[] =
    "alloc_id, job, spec, state, task_pid, task_start_ticks, task_cgroup, "
    "task_started_ns, exit_code, exit_signal, exit_reason, attempt, start_ns, "
    "finish_ns, reported_revision";

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
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return absl::StatusCode::kInvalidArgument;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status Error(sqlite3* db, int rc, absl::string_view what,
                   absl::string_view path) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return absl::Status(CodeFor(rc),
                      absl::StrCat(what, ": ", msg, " (", sqlite3_errstr(rc),
                                   ") [", path, "]"));
}

// One prepared statement for the duration of a call.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path) : db_(db), path_(path) {}
  ~Stmt() { sqlite3_finalize(stmt_); }

  absl::Status Prepare(const std::string& sql, absl::string_view what) {
    what_ = std::string(what);
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt_, nullptr);
    return rc == SQLITE_OK ? absl::OkStatus() : Fail(rc);
  }
  void Text(int i, absl::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
  }
  void Blob(int i, absl::string_view v) {
    // A zero-length blob must still be a blob, not NULL.
    sqlite3_bind_blob(stmt_, i, v.empty() ? "" : v.data(),
                      static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Null(int i) { sqlite3_bind_null(stmt_, i); }
  void Time(int i, absl::Time t) {
    if (t == absl::InfinitePast()) {
      Null(i);
    } else {
      Int(i, absl::ToUnixNanos(t));
    }
  }

  // true: a row is ready.
  absl::StatusOr<bool> Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Fail(rc);
  }

  bool IsNull(int i) const {
    return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
  }
  int64_t ColInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string ColText(int i) const {
    const void* p = sqlite3_column_blob(stmt_, i);
    int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string()
                        : std::string(static_cast<const char*>(p), n);
  }
  absl::Time ColTime(int i) const {
    return IsNull(i) ? absl::InfinitePast() : absl::FromUnixNanos(ColInt(i));
  }

 private:
  absl::Status Fail(int rc) { return Error(db_, rc, what_, path_); }

  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string what_;
};

absl::Status Exec(sqlite3* db, const std::string& path, const char* sql,
                  absl::string_view what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  return rc == SQLITE_OK ? absl::OkStatus() : Error(db, rc, what, path);
}

absl::StatusOr<int64_t> QueryInt(sqlite3* db, const std::string& path,
                                 const char* sql, absl::string_view what) {
  Stmt s(db, path);
  if (absl::Status st = s.Prepare(sql, what); !st.ok()) return st;
  absl::StatusOr<bool> row = s.Step();
  if (!row.ok()) return row.status();
  return *row ? s.ColInt(0) : 0;
}

// Creates the schema in a fresh file, or checks the version of an old one.
absl::Status InitSchema(sqlite3* db, const std::string& path) {
  if (absl::Status s = Exec(db, path, "BEGIN IMMEDIATE", "begin schema check");
      !s.ok()) {
    return s;
  }
  auto fail = [&](absl::Status s) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  };
  absl::StatusOr<int64_t> version =
      QueryInt(db, path, "PRAGMA user_version", "read schema version");
  if (!version.ok()) return fail(version.status());
  if (*version == 0) {
    absl::StatusOr<int64_t> tables = QueryInt(
        db, path, "SELECT count(*) FROM sqlite_master", "inspect schema");
    if (!tables.ok()) return fail(tables.status());
    if (*tables != 0) {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          "agent store ", path,
          " holds tables but no schema version: not an agent store")));
    }
    if (absl::Status s = Exec(db, path, kSchema, "create schema"); !s.ok()) {
      return fail(s);
    }
    std::string set =
        absl::StrCat("PRAGMA user_version = ", AllocStore::kSchemaVersion);
    if (absl::Status s = Exec(db, path, set.c_str(), "set schema version");
        !s.ok()) {
      return fail(s);
    }
  } else if (*version != AllocStore::kSchemaVersion) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "agent store ", path, " has schema version ", *version,
        "; this agent reads only version ", AllocStore::kSchemaVersion)));
  }
  return Exec(db, path, "COMMIT", "commit schema");
}

absl::StatusOr<AllocRecord> ReadRow(const Stmt& s) {
  AllocRecord r;
  r.alloc_id = s.ColText(0);
  r.job = s.ColText(1);
  r.spec = s.ColText(2);
  absl::StatusOr<AllocState> state = ParseAllocState(s.ColText(3));
  if (!state.ok()) {
    return absl::DataLossError(
        absl::StrCat("alloc \"", r.alloc_id, "\": ", state.status().message()));
  }
  r.state = *state;
  if (!s.IsNull(4)) {
    TaskRecord t;
    t.alloc_id = r.alloc_id;
    t.pid = static_cast<pid_t>(s.ColInt(4));
    t.start_ticks = static_cast<uint64_t>(s.ColInt(5));
    t.cgroup = s.ColText(6);
    t.started_at = s.ColTime(7);
    r.task = std::move(t);
  }
  r.exit_code = static_cast<int>(s.ColInt(8));
  r.exit_signal = static_cast<int>(s.ColInt(9));
  r.exit_reason = s.ColText(10);
  r.attempt = s.ColInt(11);
  r.start_time = s.ColTime(12);
  r.finish_time = s.ColTime(13);
  r.reported_revision = s.ColInt(14);
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AllocStore>> AllocStore::Open(
    const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("agent store path is empty");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = Error(db, rc, "open agent store", path);
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<AllocStore> store(new AllocStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  // journal_mode is the first statement to read the file, so a file that is
  // not a database fails here with SQLITE_NOTADB.
  {
    Stmt s(db, path);
    if (absl::Status st = s.Prepare("PRAGMA journal_mode = WAL", "enable WAL");
        !st.ok()) {
      return st;
    }
    absl::StatusOr<bool> row = s.Step();
    if (!row.ok()) return row.status();
    std::string mode = *row ? s.ColText(0) : "";
    if (mode != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("agent store ", path,
                       ": cannot use WAL (journal mode is \"", mode, "\")"));
    }
  }
  if (absl::Status s =
          Exec(db, path, "PRAGMA synchronous = FULL", "set synchronous=FULL");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = InitSchema(db, path); !s.ok()) return s;
  return store;
}

AllocStore::~AllocStore() { sqlite3_close(db_); }

absl::Status AllocStore::Put(const AllocRecord& r) {
  absl::MutexLock lock(&mu_);
  return PutLocked(r);
}

absl::Status AllocStore::PutMany(const std::vector<AllocRecord>& records) {
  return Write({.puts = records});
}

absl::Status AllocStore::Write(const Batch& batch) {
  if (batch.deletes.empty() && batch.puts.empty() && batch.metas.empty()) {
    return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status st = Exec(db_, path_, "BEGIN IMMEDIATE", "begin write");
      !st.ok()) {
    return st;
  }
  absl::Status st;
  for (const std::string& id : batch.deletes) {
    if (st = DeleteLocked(id).status(); !st.ok()) break;
  }
  for (size_t i = 0; st.ok() && i < batch.puts.size(); ++i) {
    st = PutLocked(batch.puts[i]);
  }
  for (size_t i = 0; st.ok() && i < batch.metas.size(); ++i) {
    st = SetMetaLocked(batch.metas[i].first, batch.metas[i].second);
  }
  if (st.ok()) st = Exec(db_, path_, "COMMIT", "commit write");
  if (!st.ok()) Exec(db_, path_, "ROLLBACK", "roll back write").IgnoreError();
  return st;
}

absl::Status AllocStore::PutLocked(const AllocRecord& r) {
  if (r.alloc_id.empty()) {
    return absl::InvalidArgumentError("put alloc: alloc_id is empty");
  }
  Stmt s(db_, path_);
  if (absl::Status st = s.Prepare(
          absl::StrCat("INSERT OR REPLACE INTO allocs (", kColumns,
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                       "?11, ?12, ?13, ?14, ?15)"),
          absl::StrCat("put alloc \"", r.alloc_id, "\""));
      !st.ok()) {
    return st;
  }
  s.Text(1, r.alloc_id);
  s.Text(2, r.job);
  s.Blob(3, r.spec);
  s.Text(4, AllocStateName(r.state));
  if (r.task.has_value()) {
    s.Int(5, r.task->pid);
    s.Int(6, static_cast<int64_t>(r.task->start_ticks));
    s.Text(7, r.task->cgroup);
    s.Time(8, r.task->started_at);
  } else {
    for (int i = 5; i <= 8; ++i) s.Null(i);
  }
  s.Int(9, r.exit_code);
  s.Int(10, r.exit_signal);
  s.Text(11, r.exit_reason);
  s.Int(12, r.attempt);
  s.Time(13, r.start_time);
  s.Time(14, r.finish_time);
  s.Int(15, r.reported_revision);
  return s.Step().status();
}

absl::StatusOr<AllocRecord> AllocStore::Get(absl::string_view alloc_id) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, path_);
  if (absl::Status st = s.Prepare(
          absl::StrCat("SELECT ", kColumns, " FROM allocs WHERE alloc_id = ?1"),
          absl::StrCat("get alloc \"", alloc_id, "\""));
      !st.ok()) {
    return st;
  }
  s.Text(1, alloc_id);
  absl::StatusOr<bool> row = s.Step();
  if (!row.ok()) return row.status();
  if (!*row) {
    return absl::NotFoundError(absl::StrCat(
        "alloc \"", alloc_id, "\" is not in the agent store ", path_));
  }
  return ReadRow(s);
}

absl::StatusOr<std::vector<AllocRecord>> AllocStore::List() {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, path_);
  if (absl::Status st = s.Prepare(
          absl::StrCat("SELECT ", kColumns, " FROM allocs ORDER BY alloc_id"),
          "list allocs");
      !st.ok()) {
    return st;
  }
  std::vector<AllocRecord> out;
  while (true) {
    absl::StatusOr<bool> row = s.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<AllocRecord> r = ReadRow(s);
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
  }
  return out;
}

absl::StatusOr<bool> AllocStore::Delete(absl::string_view alloc_id) {
  absl::MutexLock lock(&mu_);
  return DeleteLocked(alloc_id);
}

absl::StatusOr<bool> AllocStore::DeleteLocked(absl::string_view alloc_id) {
  Stmt s(db_, path_);
  if (absl::Status st =
          s.Prepare("DELETE FROM allocs WHERE alloc_id = ?1",
                    absl::StrCat("delete alloc \"", alloc_id, "\""));
      !st.ok()) {
    return st;
  }
  s.Text(1, alloc_id);
  if (absl::Status st = s.Step().status(); !st.ok()) return st;
  return sqlite3_changes(db_) > 0;
}

absl::Status AllocStore::SetMeta(absl::string_view key,
                                 absl::string_view value) {
  absl::MutexLock lock(&mu_);
  return SetMetaLocked(key, value);
}

absl::Status AllocStore::SetMetaLocked(absl::string_view key,
                                       absl::string_view value) {
  if (key.empty()) return absl::InvalidArgumentError("set meta: key is empty");
  Stmt s(db_, path_);
  if (absl::Status st =
          s.Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                    absl::StrCat("set meta \"", key, "\""));
      !st.ok()) {
    return st;
  }
  s.Text(1, key);
  s.Blob(2, value);
  return s.Step().status();
}

absl::StatusOr<std::optional<std::string>> AllocStore::GetMeta(
    absl::string_view key) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, path_);
  if (absl::Status st = s.Prepare("SELECT value FROM meta WHERE key = ?1",
                                  absl::StrCat("get meta \"", key, "\""));
      !st.ok()) {
    return st;
  }
  s.Text(1, key);
  absl::StatusOr<bool> row = s.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  return s.ColText(0);
}

}  // namespace berth::agent
