// AllocStore: the agent's local SQLite file of allocation records, so that a
// restarted agent knows what it was running, can re-adopt live tasks and
// resumes its watch from the last revision it processed.
//
// Durability: WAL with synchronous=FULL, one transaction per call; when a
// mutating call returns OK its effect survives a crash of the agent process
// (and of the machine, as far as fsync is honoured).
//
// Schema: versioned through PRAGMA user_version. A file written by a newer
// agent (or with an unknown version) is refused with FailedPrecondition
// naming the file and both versions, never silently reinterpreted.
//
// Errors name the database path and the operation, e.g.
//   `put alloc "a1": database is locked (SQLITE_BUSY)
//   [/var/lib/berth/agent.db]`
//
// Thread safety: all methods may be called from any thread; calls are
// serialized on one internal mutex (one connection).
#ifndef BERTH_AGENT_STORE_ALLOC_STORE_H_
#define BERTH_AGENT_STORE_ALLOC_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "agent/store/alloc_record.h"

struct sqlite3;

namespace berth::agent {

// Well-known meta key: the last lockd watch revision the agent processed.
inline constexpr char kWatchRevisionKey[] = "watch_revision";

class AllocStore {
 public:
  // The schema version this build reads and writes.
  static constexpr int kSchemaVersion = 1;

  // Opens (creating if missing) the store at `path`. The parent directory
  // must exist.
  static absl::StatusOr<std::unique_ptr<AllocStore>> Open(
      const std::string& path);
  ~AllocStore();
  AllocStore(const AllocStore&) = delete;
  AllocStore& operator=(const AllocStore&) = delete;

  // Inserts or replaces the record keyed by record.alloc_id.
  absl::Status Put(const AllocRecord& record);
  // Puts every record in one transaction (one fsync instead of one each):
  // all of them are stored, or none is.
  absl::Status PutMany(const std::vector<AllocRecord>& records);
  // One transaction (one fsync) for everything an agent tick changed:
  // deletions first (missing records are skipped), then puts, then meta
  // values. All of it is stored, or none.
  struct Batch {
    std::vector<std::string> deletes;
    std::vector<AllocRecord> puts;
    std::vector<std::pair<std::string, std::string>> metas;
  };
  absl::Status Write(const Batch& batch);
  // NotFound naming the id if there is no such record.
  absl::StatusOr<AllocRecord> Get(absl::string_view alloc_id);
  // Every record, ordered by alloc_id.
  absl::StatusOr<std::vector<AllocRecord>> List();
  // Deleting a missing record is not an error (deletes are retried after
  // crashes); returns whether a record was removed.
  absl::StatusOr<bool> Delete(absl::string_view alloc_id);

  absl::Status SetMeta(absl::string_view key, absl::string_view value);
  // nullopt when the key was never set.
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key);

  const std::string& path() const { return path_; }

 private:
  AllocStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  absl::Status PutLocked(const AllocRecord& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> DeleteLocked(absl::string_view alloc_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetMetaLocked(absl::string_view key, absl::string_view value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  const std::string path_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_STORE_ALLOC_STORE_H_
