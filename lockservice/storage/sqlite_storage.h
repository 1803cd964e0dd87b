// SqliteStorage: a replica's durable Raft state (log, hard state, latest
// snapshot) in one SQLite file, implementing raft::LogStore.
//
// Durability: the file runs in WAL mode with synchronous=FULL by default.
// Every Save() and CreateSnapshot() is exactly one transaction (group commit)
// and returns only after the WAL has been fsynced, so the driver may send
// messages that depend on the saved state as soon as the call returns OK.
// A call that fails leaves the file as it was (the transaction is rolled
// back); after an I/O error whose outcome on disk is unknown (e.g. a failed
// fsync) the store refuses further writes until it is reopened, because the
// in-memory caches can no longer be trusted to match the file.
//
// Semantics match raft::MemoryStorage: GetInitialState().conf_state is the
// ConfState of the latest snapshot (or the bootstrap ConfState of a new
// cluster, at index 0); the core re-derives later membership from the log.
//
// Schema (PRAGMA user_version = kSchemaVersion), all tables prefixed raft_:
//   raft_log(idx INTEGER PRIMARY KEY, term, type, data BLOB)
//   raft_meta(one row): hard state, compaction point (index, term) and the
//             latest snapshot's metadata
//   raft_snapshot(one row): the latest snapshot's state-machine image
//
// Sharing the file with the applied state machine: its tables are named
// with the prefix `sm_` and it must never touch raft_* tables. Two ways:
//  * through db(): run its own transactions (storage::Transaction) on this
//    connection, from the thread that drives this store, never leaving one
//    open across a call into this store (Save would fail with "cannot start
//    a transaction within a transaction"); it must not change the pragmas
//    set here;
//  * with its own connection to the same path (what lockd does), with
//    Options::exclusive left off. Pragmas such as synchronous are per
//    connection, so its choice does not weaken the log's durability.
// sm_* tables may exist before the raft schema is created.
//
// Thread safety: none. One thread at a time (the Raft driver's).
#ifndef BERTH_LOCKSERVICE_STORAGE_SQLITE_STORAGE_H_
#define BERTH_LOCKSERVICE_STORAGE_SQLITE_STORAGE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/raft/storage.h"
#include "lockservice/storage/sqlite_util.h"
#include "proto/raft.pb.h"

namespace berth::storage {

class SqliteStorage : public raft::LogStore {
 public:
  static constexpr int kSchemaVersion = 1;
  // Compacted entries deleted per transaction (CreateSnapshot, then one
  // step per Save): a snapshot compacts thousands of entries, and deleting
  // them in one go held the Raft thread and the write lock for the whole
  // range.
  static constexpr uint64_t kPurgeStepEntries = 1000;

  enum class Synchronous { kFull, kNormal, kOff };

  struct Options {
    // Membership of a brand-new cluster. Used only when the file is created;
    // an existing file keeps its stored membership. Empty: a node that joins
    // an existing cluster and learns membership from the leader.
    raftpb::ConfState bootstrap;
    // kFull is the only setting under which Save() is durable on return.
    // kNormal/kOff exist for benchmarks and throwaway test clusters.
    Synchronous synchronous = Synchronous::kFull;
    // Create the file if it does not exist.
    bool create_if_missing = true;
    // Hold an exclusive lock on the file for the store's lifetime
    // (locking_mode=EXCLUSIVE), so that a second process, e.g. a replica
    // started twice on one data directory, fails to open it. Off by
    // default because it also locks out other connections of this process:
    // enable it only when the state machine works through db().
    bool exclusive = false;
    // How long to wait for a lock held by another connection.
    int busy_timeout_ms = 5000;
    // Name of a registered SQLite VFS; empty for the default. Tests use this
    // to inject faults (see fault_vfs.h).
    std::string vfs;
  };

  static absl::StatusOr<std::unique_ptr<SqliteStorage>> Open(
      const std::string& path, const Options& options);

  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  // raft::Storage.
  absl::StatusOr<raft::InitialState> GetInitialState() override;
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) override;
  absl::StatusOr<uint64_t> Term(uint64_t i) override;
  uint64_t FirstIndex() override { return meta_.compacted_index + 1; }
  uint64_t LastIndex() override { return meta_.last_index; }
  absl::StatusOr<raftpb::Snapshot> GetSnapshot() override;

  // raft::LogStore. Save rejects, with InvalidArgument naming the entry:
  // non-contiguous entries, decreasing terms, a gap after LastIndex(). It
  // rejects with FailedPrecondition a snapshot older than the current one
  // and a hard state whose term decreases or whose vote changes within a
  // term (both would break Raft's safety). Entries at or below the
  // compaction point are ignored, as in MemoryStorage.
  absl::Status Save(const raftpb::HardState* hs,
                    const std::vector<raftpb::Entry>& entries,
                    const raftpb::Snapshot* snap) override;
  absl::Status CreateSnapshot(uint64_t index, const raftpb::ConfState& cs,
                              std::string data, uint64_t compact_to) override;

  // The hard state as last saved (cached; no I/O).
  const raftpb::HardState& hard_state() const { return meta_.hard_state; }
  const std::string& path() const { return path_; }

  // The connection, for the state machine's sm_* tables (see above). Owned
  // by this object; valid until it is destroyed.
  sqlite3* db() const { return db_; }

 private:
  struct Statements;
  // The cached view of raft_meta plus the log bounds.
  struct Meta {
    raftpb::HardState hard_state;
    uint64_t compacted_index = 0;
    uint64_t compacted_term = 0;
    raftpb::SnapshotMetadata snapshot;
    uint64_t last_index = 0;
    uint64_t last_term = 0;
    // Every entry at or below this index is deleted from raft_log; those in
    // (purged_upto, compacted_index] may remain until PurgeStep reaches
    // them. Derived from the file on open, not stored.
    uint64_t purged_upto = 0;
  };
  // Deletes the next step of compacted entries inside the caller's
  // transaction and advances next->purged_upto.
  absl::Status PurgeStep(Meta* next);

  SqliteStorage(std::string path, sqlite3* db);

  absl::Status Configure(const Options& options);
  absl::Status EnsureSchema(const Options& options);
  absl::Status PrepareStatements();
  absl::Status LoadMeta();
  absl::Status WriteMeta(const Meta& m);
  absl::StatusOr<uint64_t> LoadTerm(uint64_t i);
  // Validates a Save batch against the current state and computes the state
  // after it. `*skip` is the number of leading entries already compacted.
  absl::Status PlanSave(const raftpb::HardState* hs,
                        const std::vector<raftpb::Entry>& entries,
                        const raftpb::Snapshot* snap, Meta* next, size_t* skip);
  // Classifies a failed write transaction: the caches still match the file
  // (it was rolled back), or the store is poisoned because the outcome on
  // disk is unknown.
  absl::Status WriteFailed(absl::Status s, bool at_commit);

  const std::string path_;
  sqlite3* db_;
  std::unique_ptr<Statements> stmts_;

  Meta meta_;
  // Set after a write failed in a way that may have left the file ahead of
  // the caches (fsync or I/O error); every later write returns it.
  absl::Status poisoned_;
};

}  // namespace berth::storage

#endif  // BERTH_LOCKSERVICE_STORAGE_SQLITE_STORAGE_H_
