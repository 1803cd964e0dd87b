// SqliteStorage: opening a file, creating or checking its schema, and
// loading the cached state. The read and write paths are in
// sqlite_storage.cc.
#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lockservice/storage/sqlite_statements.h"
#include "lockservice/storage/sqlite_storage.h"

namespace berth::storage {

namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE raft_log (
  idx  INTEGER PRIMARY KEY,
  term INTEGER NOT NULL,
  type INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE raft_meta (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  hs_term         INTEGER NOT NULL,
  hs_vote         INTEGER NOT NULL,
  hs_commit       INTEGER NOT NULL,
  compacted_index INTEGER NOT NULL,
  compacted_term  INTEGER NOT NULL,
  snap_index      INTEGER NOT NULL,
  snap_term       INTEGER NOT NULL,
  snap_conf_state BLOB NOT NULL
);
CREATE TABLE raft_snapshot (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  data BLOB NOT NULL
);
)sql";
absl::Status ValidateBootstrap(const raftpb::ConfState& cs) {
  std::set<uint64_t> seen;
  for (const auto* list : {&cs.voters(), &cs.learners()}) {
    for (uint64_t id : *list) {
      if (id == 0) {
        return absl::InvalidArgumentError("bootstrap: node id 0 is reserved");
      }
      if (!seen.insert(id).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("bootstrap: node id ", id, " is listed twice"));
      }
    }
  }
  if (cs.voters_size() == 0 && cs.learners_size() > 0) {
    return absl::InvalidArgumentError(
        "bootstrap: learners given but the voter list is empty");
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStorage>> SqliteStorage::Open(
    const std::string& path, const Options& options) {
  if (path.empty()) {
    return absl::InvalidArgumentError("open raft store: empty file path");
  }
  if (absl::Status s = ValidateBootstrap(options.bootstrap); !s.ok()) {
    return Annotate(s, absl::StrCat("open raft store ", path));
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags,
                           options.vfs.empty() ? nullptr : options.vfs.c_str());
  if (rc != SQLITE_OK) {
    absl::Status s =
        SqliteError(db, rc, absl::StrCat("open raft store ", path));
    sqlite3_close_v2(db);
    return s;
  }
  std::unique_ptr<SqliteStorage> store(new SqliteStorage(path, db));
  sqlite3_extended_result_codes(db, 1);
  for (auto step : {&SqliteStorage::Configure, &SqliteStorage::EnsureSchema}) {
    if (absl::Status s = (store.get()->*step)(options); !s.ok()) {
      if (absl::IsUnavailable(s)) {
        return Annotate(
            s, absl::StrCat("open raft store ", path,
                            ": locked by another connection or process"));
      }
      return Annotate(s, absl::StrCat("open raft store ", path));
    }
  }
  if (absl::Status s = store->PrepareStatements(); !s.ok()) {
    return Annotate(s, absl::StrCat("open raft store ", path));
  }
  if (absl::Status s = store->LoadMeta(); !s.ok()) {
    return Annotate(s, absl::StrCat("open raft store ", path));
  }
  return store;
}

absl::Status SqliteStorage::Configure(const Options& options) {
  sqlite3_busy_timeout(db_, options.busy_timeout_ms);
  if (options.exclusive) {
    if (absl::Status s = Exec(db_, "PRAGMA locking_mode=EXCLUSIVE"); !s.ok()) {
      return s;
    }
  }
  // Incremental auto-vacuum lets `berth cluster defrag` give free pages
  // back in short steps instead of one long VACUUM that blocks the replica.
  // Only takes effect in a file that has no tables yet; ignored otherwise.
  if (absl::Status s = Exec(db_, "PRAGMA auto_vacuum=INCREMENTAL"); !s.ok()) {
    return s;
  }
  // The first read of the file happens here, so a file that is not a
  // database fails on this statement with SQLITE_NOTADB.
  absl::StatusOr<std::unique_ptr<Statement>> wal =
      Statement::Prepare(db_, "PRAGMA journal_mode=WAL");
  if (!wal.ok()) return wal.status();
  absl::StatusOr<bool> row = (*wal)->Step();
  if (!row.ok()) return row.status();
  std::string mode = *row ? std::string((*wal)->ColumnBlob(0)) : "";
  if (mode != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot enable WAL journal mode (got \"", mode, "\")"));
  }
  const char* sync = "PRAGMA synchronous=FULL";
  if (options.synchronous == Synchronous::kNormal) {
    sync = "PRAGMA synchronous=NORMAL";
  } else if (options.synchronous == Synchronous::kOff) {
    sync = "PRAGMA synchronous=OFF";
  }
  if (absl::Status s = Exec(db_, sync); !s.ok()) return s;
  // A checkpoint leaves the WAL at its high-water mark; cap what stays on
  // disk so a burst does not pin gigabytes.
  return Exec(db_, "PRAGMA journal_size_limit=67108864");
}

absl::Status SqliteStorage::EnsureSchema(const Options& options) {
  auto tx = Transaction::Begin(db_);
  if (!tx.ok()) return tx.status();
  auto version = Statement::Prepare(db_, "PRAGMA user_version");
  if (!version.ok()) return version.status();
  absl::StatusOr<bool> row = (*version)->Step();
  if (!row.ok()) return row.status();
  const int64_t v = *row ? (*version)->ColumnInt(0) : 0;
  (*version)->Reset();
  if (v == kSchemaVersion) return absl::OkStatus();
  if (v != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("unsupported schema version ", v, " (this build reads ",
                     kSchemaVersion, "); refusing to touch the file"));
  }
  // Version 0: a brand-new file, or some other database we must not adopt.
  auto tables = Statement::Prepare(
      db_,
      "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
      "name NOT LIKE 'sm\\_%' ESCAPE '\\' AND "
      "name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
  if (!tables.ok()) return tables.status();
  row = (*tables)->Step();
  if (!row.ok()) return row.status();
  if ((*tables)->ColumnInt(0) != 0) {
    return absl::FailedPreconditionError(
        "file has tables but no berth schema version (user_version 0); it "
        "is not a berth raft store");
  }
  (*tables)->Reset();
  if (absl::Status s = Exec(db_, kSchema); !s.ok()) return s;
  auto init = Statement::Prepare(
      db_,
      "INSERT INTO raft_meta VALUES (1, 0, 0, 0, 0, 0, 0, 0, ?1);"
      "");
  if (!init.ok()) return init.status();
  std::string cs = options.bootstrap.SerializeAsString();
  (*init)->BindBlob(1, cs);
  if (absl::Status s = (*init)->Run(); !s.ok()) return s;
  if (absl::Status s = Exec(db_, "INSERT INTO raft_snapshot VALUES (1, x'')");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Exec(
          db_, absl::StrCat("PRAGMA user_version=", kSchemaVersion).c_str());
      !s.ok()) {
    return s;
  }
  return (*tx)->Commit();
}

absl::Status SqliteStorage::PrepareStatements() {
  auto st = std::make_unique<Statements>();
  struct {
    std::unique_ptr<Statement>* slot;
    const char* sql;
  } const defs[] = {
      {&st->insert_entry,
       "INSERT INTO raft_log (idx, term, type, data) VALUES (?1, ?2, ?3, ?4)"},
      {&st->delete_from, "DELETE FROM raft_log WHERE idx >= ?1"},
      {&st->delete_purge, "DELETE FROM raft_log WHERE idx > ?1 AND idx <= ?2"},
      {&st->delete_above, "DELETE FROM raft_log WHERE idx > ?1"},
      {&st->select_lowest, "SELECT min(idx) FROM raft_log"},
      {&st->update_meta,
       "UPDATE raft_meta SET hs_term = ?1, hs_vote = ?2, hs_commit = ?3, "
       "compacted_index = ?4, compacted_term = ?5, snap_index = ?6, "
       "snap_term = ?7, snap_conf_state = ?8 WHERE id = 1"},
      {&st->select_meta,
       "SELECT hs_term, hs_vote, hs_commit, compacted_index, compacted_term, "
       "snap_index, snap_term, snap_conf_state FROM raft_meta WHERE id = 1"},
      {&st->select_bounds,
       "SELECT count(*), min(idx), max(idx) FROM raft_log WHERE idx > ?1"},
      {&st->select_range,
       "SELECT idx, term, type, data FROM raft_log WHERE idx >= ?1 AND "
       "idx < ?2 ORDER BY idx"},
      {&st->select_term, "SELECT term FROM raft_log WHERE idx = ?1"},
      {&st->select_snapshot, "SELECT data FROM raft_snapshot WHERE id = 1"},
      {&st->upsert_snapshot,
       "INSERT OR REPLACE INTO raft_snapshot (id, data) VALUES (1, ?1)"},
  };
  for (const auto& d : defs) {
    auto s = Statement::Prepare(db_, d.sql);
    if (!s.ok()) return s.status();
    *d.slot = std::move(*s);
  }
  stmts_ = std::move(st);
  return absl::OkStatus();
}

absl::Status SqliteStorage::LoadMeta() {
  Meta m;
  Statement& q = *stmts_->select_meta;
  absl::StatusOr<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!*row) {
    q.Reset();
    return absl::DataLossError("raft_meta has no row; the file is damaged");
  }
  m.hard_state.set_term(q.ColumnUint(0));
  m.hard_state.set_vote(q.ColumnUint(1));
  m.hard_state.set_commit(q.ColumnUint(2));
  m.compacted_index = q.ColumnUint(3);
  m.compacted_term = q.ColumnUint(4);
  m.snapshot.set_index(q.ColumnUint(5));
  m.snapshot.set_term(q.ColumnUint(6));
  const absl::string_view conf = q.ColumnBlob(7);
  const bool conf_ok = m.snapshot.mutable_conf_state()->ParseFromArray(
      conf.data(), static_cast<int>(conf.size()));
  q.Reset();
  if (!conf_ok) {
    return absl::DataLossError("raft_meta.snap_conf_state does not parse");
  }

  // Entries at or below the compaction point may still be stored: they are
  // deleted in bounded steps (PurgeStep). Nothing reads them.
  Statement& low = *stmts_->select_lowest;
  row = low.Step();
  if (!row.ok()) return row.status();
  const uint64_t lowest = low.ColumnUint(0);
  low.Reset();
  m.purged_upto =
      lowest == 0 ? m.compacted_index : std::min(lowest - 1, m.compacted_index);

  Statement& b = *stmts_->select_bounds;
  b.BindUint(1, m.compacted_index);
  row = b.Step();
  if (!row.ok()) return row.status();
  const uint64_t count = b.ColumnUint(0);
  const uint64_t lo = b.ColumnUint(1);
  const uint64_t hi = b.ColumnUint(2);
  b.Reset();
  if (count == 0) {
    m.last_index = m.compacted_index;
    m.last_term = m.compacted_term;
  } else {
    if (lo != m.compacted_index + 1 || hi - lo + 1 != count) {
      return absl::DataLossError(
          absl::StrCat("raft_log is not contiguous after the compaction point ",
                       m.compacted_index, ": ", count, " entries spanning [",
                       lo, ", ", hi, "]"));
    }
    m.last_index = hi;
    meta_ = m;  // LoadTerm reads the bounds from meta_
    absl::StatusOr<uint64_t> t = LoadTerm(hi);
    if (!t.ok()) return t.status();
    m.last_term = *t;
  }
  meta_ = m;
  return absl::OkStatus();
}
}  // namespace berth::storage
