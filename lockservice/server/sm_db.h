// SmDb: the state machine's SQLite connection, with a cache of prepared
// statements and small typed helpers.
//
// The state machine's tables (prefix sm_) live in the same file as the Raft
// log but are written through this separate connection, so the storage and
// the state machine never share a transaction object. WAL mode lets both
// connections coexist; writers serialize on SQLite's own lock.
//
// Thread safety: none. One SmDb belongs to the thread that applies entries.
#ifndef BERTH_LOCKSERVICE_SERVER_SM_DB_H_
#define BERTH_LOCKSERVICE_SERVER_SM_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::lock {

// A cached prepared statement. Obtained from SmDb::Prepare already reset, so
// callers bind, step and stop; the next Prepare of the same SQL resets it.
class SmStmt {
 public:
  SmStmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SmStmt();
  SmStmt(const SmStmt&) = delete;
  SmStmt& operator=(const SmStmt&) = delete;

  // Parameter indexes start at 1. Binding errors surface at Step().
  SmStmt& Bind(int i, int64_t v);
  SmStmt& Bind(int i, absl::string_view blob);

  // true: a row is available; false: done.
  absl::StatusOr<bool> Step();
  // Steps to completion, ignoring rows.
  absl::Status Run();

  int64_t Int(int col) const;
  std::string Blob(int col) const;
  bool IsNull(int col) const;

  void Reset();

 private:
  friend class SmDb;
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
  bool handed_out_ = false;  // listed in SmDb::handed_out_
};

class SmDb {
 public:
  // Opens (creating if needed) the SQLite file at `path` in WAL mode.
  static absl::StatusOr<std::unique_ptr<SmDb>> Open(const std::string& path);
  ~SmDb();
  SmDb(const SmDb&) = delete;
  SmDb& operator=(const SmDb&) = delete;

  // Runs statements that return no rows.
  absl::Status Exec(absl::string_view sql);
  // Runs ONE statement that returns no rows through the statement cache:
  // for the savepoints taken on every applied entry, which sqlite3_exec
  // would parse again each time.
  absl::Status ExecCached(absl::string_view sql);
  // Returns a cached, reset statement; valid until the SmDb is destroyed.
  absl::StatusOr<SmStmt*> Prepare(absl::string_view sql);

  // One applied entry's transaction: BEGIN IMMEDIATE, or a savepoint
  // inside the open batch.
  absl::Status Begin();
  absl::Status Commit();
  void Rollback();
  // Groups the entry transactions that follow into one SQLite transaction:
  // a COMMIT costs far more than a savepoint, and the driver applies
  // committed entries in batches anyway. Nothing of the batch is durable
  // before CommitBatch; a crash before it re-applies the batch from the
  // Raft log, which is deterministic.
  absl::Status BeginBatch();
  absl::Status CommitBatch();
  // Rolls the whole batch back (its entries are re-applied after a restart).
  void AbortBatch();
  bool in_batch() const { return batch_; }
  // Resets every cached statement handed out since the last ResetAll, so
  // none holds a read cursor (needed before COMMIT, DETACH and the like).
  // The others were reset when last handed out and not stepped since.
  void ResetAll();
  bool InTransaction() const;

  // Errors name the action, SQLite's message and the file.
  absl::Status Error(int rc, absl::string_view what) const;

  const std::string& path() const { return path_; }
  sqlite3* raw() const { return db_; }

 private:
  SmDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  absl::flat_hash_map<std::string, std::unique_ptr<SmStmt>> stmts_;
  // Statements Prepare handed out since the last ResetAll: an apply uses a
  // dozen of the cache's many, and resets them twice per entry.
  std::vector<SmStmt*> handed_out_;
  bool batch_ = false;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_SM_DB_H_
