// FaultVfs: a test-only SQLite VFS that simulates power loss and failing
// disks, in the style of LevelDB's FaultInjectionTestEnv.
//
// It wraps the default (unix) VFS. For every file opened through it, it
// remembers the file's size at its last xSync and an undo record (the old
// bytes) for each write or truncate since then. A simulated crash
// (Crash(), or CrashAfter(n) mutating operations) makes the disk "dead":
// every later write, truncate, sync and delete fails with SQLITE_IOERR and
// changes nothing, so closing the connection cannot tidy up. After all
// connections are closed, DropUnsyncedAndRevive() rolls every file back to
// its last synced content and brings the disk back, as a machine would look
// after a power cut.
//
// It can also fail operations without crashing: FailWritesAfter(n, rc) makes
// the (n+1)-th and later writes return `rc` (e.g. SQLITE_FULL) until
// ClearFaults(); FailSyncsAfter likewise for xSync.
//
// Limitations: deletes and file creation are treated as durable at once (no
// directory-entry loss); files opened without a name (SQLite temp files) are
// passed through untracked; memory-mapped I/O is disabled (the VFS exposes
// io_methods version 2).
//
// Thread safety: all methods are safe to call from any thread; the state is
// guarded by one mutex. The object must outlive every connection using it.
#ifndef BERTH_LOCKSERVICE_STORAGE_FAULT_VFS_H_
#define BERTH_LOCKSERVICE_STORAGE_FAULT_VFS_H_

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace berth::storage {

class FaultVfs {
 public:
  // Registers a VFS called `name` (not as the default). Fails if the name is
  // taken. With real_sync=false, xSync only marks data as synced in the model
  // and skips the real fsync: crash simulation does not need the real disk to
  // be durable, and the tests run far faster.
  static absl::StatusOr<std::unique_ptr<FaultVfs>> Register(
      const std::string& name, bool real_sync = false);
  ~FaultVfs();  // unregisters
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  const std::string& name() const { return name_; }

  // The disk dies now / after `n` more mutating operations succeed.
  void Crash();
  void CrashAfter(int64_t n);
  bool crashed() const;

  // Writes (syncs) after the next `n` successful ones return `rc`.
  void FailWritesAfter(int64_t n, int rc);
  void FailSyncsAfter(int64_t n, int rc);
  void ClearFaults();

  // Rolls every tracked file back to its last synced state and revives the
  // disk. Every connection using this VFS must be closed first.
  //
  // With `keep_some`, a harsher crash: each unsynced overwrite survives
  // with probability 1/2 and each file keeps a random prefix of what was
  // appended since its last sync, as when the OS had flushed some dirty
  // pages before power was lost.
  absl::Status DropUnsyncedAndRevive(std::mt19937_64* keep_some = nullptr);

  // Mutating operations (write, truncate, sync) seen so far.
  int64_t ops() const;

 private:
  struct Undo {
    int64_t offset;
    std::string old;  // bytes to put back at offset
  };
  struct FileState {
    int64_t synced_size = 0;
    std::vector<Undo> undo;
  };
  struct File;
  friend struct FaultVfsGlue;

  FaultVfs(std::string name, bool real_sync);

  // Returns SQLITE_OK if a mutating op may proceed, or the injected error.
  int Admit(bool is_write, bool is_sync, int io_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  const bool real_sync_;
  sqlite3_vfs* base_ = nullptr;
  sqlite3_vfs vfs_{};

  mutable absl::Mutex mu_;
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  bool dead_ ABSL_GUARDED_BY(mu_) = false;
  int64_t ops_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t crash_after_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t fail_writes_after_ ABSL_GUARDED_BY(mu_) = -1;
  int fail_writes_rc_ ABSL_GUARDED_BY(mu_) = SQLITE_OK;
  int64_t fail_syncs_after_ ABSL_GUARDED_BY(mu_) = -1;
  int fail_syncs_rc_ ABSL_GUARDED_BY(mu_) = SQLITE_OK;
};

}  // namespace berth::storage

#endif  // BERTH_LOCKSERVICE_STORAGE_FAULT_VFS_H_
