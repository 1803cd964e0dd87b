// LogWriter: a replica's log writes, made durable off the Raft driver
// thread (Raft thesis §10.2.1; raft.h, "Asynchronous log writes").
//
// The driver submits each Ready's entries (and hard state, if any) and goes
// on stepping messages, sending and applying while the write and its fsync
// run here, so a slow fsync (tens of ms on a busy disk) never holds up
// heartbeats. Writes run in submission order; writes that queued up while
// one was running go out as one LogStore::Save (one fsync: group commit).
// After each Save the writer sends the messages submitted with those writes
// (a follower's acks, which must not leave before the entries they
// acknowledge are durable), then `done` reports the last entry written,
// which the driver passes to Raft::OnPersisted. Log compactions are queued
// the same way, so they never wait on, or delay, the driver either.
//
// The replica's state machine may share the store's file (lockd's does) and
// then applies under the same file mutex as a Save. Yield lets the driver
// apply without waiting for a write in progress: it asks the writer to
// pause before its next job, is woken by that write's `done`, applies, and
// lets the writer go on (EndYield).
//
// Thread safety: Submit, Compact, Flush, Busy, YieldIfWriting and EndYield
// are called by the driver thread; `send` and `done` run on the writer
// thread and must not call back into the LogWriter. Ownership: the store is
// borrowed and must outlive the writer. The destructor writes out what was
// submitted, then joins the thread.
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
#include "absl/time/time.h"
#include "lockservice/raft/storage.h"
#include "proto/raft.pb.h"

namespace berth::node {

class LogWriter {
 public:
  struct Written {
    absl::Status status;
    // Last entry of the write (0, 0 if it carried no entries).
    uint64_t index = 0;
    uint64_t term = 0;
  };
  using DoneFn = std::function<void(const Written&)>;
  using SendFn = std::function<void(std::vector<raftpb::Message>)>;

  // One Ready's share of the work.
  struct Write {
    std::optional<raftpb::HardState> hs;
    // May start at or below the end of an earlier write (a follower
    // replacing a conflicting suffix); the later write wins.
    std::vector<raftpb::Entry> entries;
    // Sent once this write and all before it are durable; dropped if the
    // write fails.
    std::vector<raftpb::Message> then_send;
  };

  // A job that holds the store longer than `slow` (a slow fsync, a big
  // compaction) is logged on stderr: it delays commits, though not the
  // Raft thread.
  LogWriter(raft::LogStore* store, SendFn send, DoneFn done,
            absl::Duration slow = absl::Milliseconds(50));
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  void Submit(Write w);
  // Queues LogStore::CreateSnapshot(index, cs, "", compact_to) behind the
  // writes submitted so far. A failure is logged, not reported: the log
  // only stays longer.
  void Compact(uint64_t index, raftpb::ConfState cs, uint64_t compact_to);
  // Waits until everything submitted so far was written (or failed) and
  // its `done` calls have returned. Must not be called while a yield is
  // requested: the writer would wait for it forever.
  void Flush();
  // True if a submitted job has not completed yet.
  bool Busy();
  // If a job is running, the writer pauses before starting the next one
  // until EndYield, and the caller is told true (it will hear `done` of the
  // running job). False if nothing runs: the store's file is not held by
  // the writer.
  bool YieldIfWriting();
  void EndYield();

 private:
  struct Job {
    Write write;
    // Set for a compaction (write is empty then).
    std::optional<raftpb::ConfState> compact_cs;
    uint64_t compact_index = 0;
    uint64_t compact_to = 0;
  };
  void Run();

  raft::LogStore* const store_;
  const absl::Duration slow_;
  const SendFn send_;
  const DoneFn done_;
  absl::Mutex mu_;
  std::vector<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool yield_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Appends `next` to `log`, replacing any entries of `log` at or above the
// first index of `next` (the later write wins). Exposed for tests.
void MergeEntries(std::vector<raftpb::Entry>& log,
                  std::vector<raftpb::Entry>&& next);

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_LOG_WRITER_H_
