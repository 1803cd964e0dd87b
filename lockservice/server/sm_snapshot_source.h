// SnapshotSource: builds state-machine snapshot images off the apply thread.
//
// The applied state is durable in the replica's SQLite file, so a snapshot
// needs no help from the thread that applies entries: this object keeps its
// own connection to the file and
//  * Pin() opens a read transaction on it (WAL mode: a consistent view of
//    the last committed apply batch that later commits do not disturb). It
//    only takes SQLite's read mark, so it is cheap enough for the Raft
//    driver thread, which calls it between apply batches so that the view
//    matches the index the driver has applied;
//  * Build() then copies every sm_ table of that view into a standalone
//    in-memory database and returns its serialized image (the format
//    StateMachine::Restore reads), ending the read transaction. It is slow
//    (proportional to the state) and meant for a background thread; the
//    apply thread keeps committing meanwhile.
// Tables are found in sqlite_master by their sm_ prefix, not from a fixed
// list, so a table added to the state machine travels without changes here.
//
// While a view is pinned, SQLite cannot checkpoint the WAL past it, so the
// WAL grows until Build() (or Unpin()) ends the read transaction.
//
// Thread safety: none, but the object may move between threads: Pin() on
// one, Build() on another, as long as the calls do not overlap (the caller
// hands it over with a mutex or a thread start/join).
#ifndef BERTH_LOCKSERVICE_SERVER_SM_SNAPSHOT_SOURCE_H_
#define BERTH_LOCKSERVICE_SERVER_SM_SNAPSHOT_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/server/sm_db.h"

namespace berth::lock {

class SnapshotSource {
 public:
  // Opens a second connection to the replica's SQLite file at `path`.
  static absl::StatusOr<std::unique_ptr<SnapshotSource>> Open(
      const std::string& path);

  // Starts a read transaction and returns the applied index it sees.
  // FailedPrecondition if a view is already pinned.
  absl::StatusOr<uint64_t> Pin();
  // Copies the pinned view into a standalone SQLite image and unpins it.
  // FailedPrecondition if nothing is pinned.
  absl::StatusOr<std::string> Build();
  // Abandons the pinned view, if any.
  void Unpin();
  bool pinned() const { return pinned_; }

 private:
  explicit SnapshotSource(std::unique_ptr<SmDb> db) : db_(std::move(db)) {}
  absl::StatusOr<std::string> Copy();

  std::unique_ptr<SmDb> db_;
  bool pinned_ = false;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_SM_SNAPSHOT_SOURCE_H_
