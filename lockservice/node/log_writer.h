// LogWriter: a leader's log writes, made durable off the Raft driver thread
// (Raft thesis §10.2.1; raft.h, "Asynchronous log writes").
//
// The driver submits each leader Ready's entries (and hard state, if any)
// and goes on stepping messages, sending and applying while the write and
// its fsync run here. Batches are written in submission order; batches that
// queued up while a write was running go out as one LogStore::Save (one
// fsync: group commit). After each Save, `done` reports the last entry
// written, which the driver passes to Raft::OnPersisted.
//
// Thread safety: Submit and Flush are called by the driver thread; `done`
// runs on the writer thread and must not call back into the LogWriter.
// Ownership: the store is borrowed and must outlive the writer. The
// destructor writes out what was submitted, then joins the thread.
#ifndef BERTH_LOCKSERVICE_NODE_LOG_WRITER_H_
#define BERTH_LOCKSERVICE_NODE_LOG_WRITER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "lockservice/raft/storage.h"
#include "proto/raft.pb.h"

namespace berth::node {

class LogWriter {
 public:
  struct Written {
    absl::Status status;
    // Last entry of the write (0, 0 if it carried only a hard state).
    uint64_t index = 0;
    uint64_t term = 0;
  };
  using DoneFn = std::function<void(const Written&)>;

  LogWriter(raft::LogStore* store, DoneFn done);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues one write. `entries` continue the log (a leader only appends).
  void Submit(std::optional<raftpb::HardState> hs,
              std::vector<raftpb::Entry> entries);
  // Waits until everything submitted so far was written (or failed); its
  // `done` calls have returned. For a write that must not overtake these.
  void Flush();
  // True if a submitted write has not completed yet.
  bool Busy();

 private:
  struct Batch {
    std::optional<raftpb::HardState> hs;
    std::vector<raftpb::Entry> entries;
  };
  void Run();

  raft::LogStore* const store_;
  const DoneFn done_;
  absl::Mutex mu_;
  std::vector<Batch> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_LOG_WRITER_H_
