// Thin RAII helpers over the SQLite C API: status conversion, cached prepared
// statements and transactions.
//
// Every error names what was being done, the database file and SQLite's own
// message, e.g. `save: step "INSERT INTO raft_log ...": database or disk is
// full (SQLITE_FULL) [/var/lib/berth/raft.db]`.
//
// Thread safety: none. A Statement or Transaction belongs to the thread that
// owns its connection. Borrowed `sqlite3*` pointers must outlive the helpers
// built on them.
#ifndef BERTH_LOCKSERVICE_STORAGE_SQLITE_UTIL_H_
#define BERTH_LOCKSERVICE_STORAGE_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::storage {

// Maps a SQLite result code to a Status: SQLITE_FULL → ResourceExhausted,
// SQLITE_BUSY/LOCKED → Unavailable, SQLITE_CORRUPT/NOTADB → DataLoss,
// SQLITE_CONSTRAINT/MISUSE/RANGE → InvalidArgument, I/O errors → Internal.
// The message is "<what>: <sqlite errmsg> (<code name>) [<db path>]".
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

// `s` with "<what>: " prepended to its message, same code.
absl::Status Annotate(const absl::Status& s, absl::string_view what);

// The file name of the main database of `db` ("" for in-memory).
std::string DbPath(sqlite3* db);

// Runs one or more statements that return no rows.
absl::Status Exec(sqlite3* db, const char* sql);

// A prepared statement, compiled once and reused (bind, step, Reset).
class Statement {
 public:
  static absl::StatusOr<std::unique_ptr<Statement>> Prepare(sqlite3* db,
                                                            const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameter indexes start at 1, as in sqlite3_bind_*. Binding errors are
  // reported by the next Step().
  void BindInt(int i, int64_t v);
  void BindUint(int i, uint64_t v) { BindInt(i, static_cast<int64_t>(v)); }
  // The blob is copied (SQLITE_TRANSIENT) unless `static_until_reset`, in
  // which case the caller keeps it alive until Reset().
  void BindBlob(int i, absl::string_view v, bool static_until_reset = false);

  // true: a row is available; false: done.
  absl::StatusOr<bool> Step();
  // Step() that must not return a row.
  absl::Status Run();

  int64_t ColumnInt(int i) const;
  uint64_t ColumnUint(int i) const {
    return static_cast<uint64_t>(ColumnInt(i));
  }
  absl::string_view ColumnBlob(int i) const;

  // Clears bindings and resets the cursor; call after each use so readers do
  // not pin old WAL snapshots.
  void Reset();

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
};

// BEGIN IMMEDIATE ... COMMIT. Rolls back in the destructor unless committed.
// Usable by other components (the lock state machine) that share the file.
class Transaction {
 public:
  static absl::StatusOr<std::unique_ptr<Transaction>> Begin(sqlite3* db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Durable on return when synchronous=FULL. On failure the transaction has
  // been rolled back.
  absl::Status Commit();

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  void Rollback();
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace berth::storage

#endif  // BERTH_LOCKSERVICE_STORAGE_SQLITE_UTIL_H_
