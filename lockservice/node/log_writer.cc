#include "lockservice/node/log_writer.h"

#include <pthread.h>

#include <utility>

namespace berth::node {

LogWriter::LogWriter(raft::LogStore* store, DoneFn done)
    : store_(store), done_(std::move(done)) {
  thread_ = std::thread([this] { Run(); });
}

LogWriter::~LogWriter() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void LogWriter::Submit(std::optional<raftpb::HardState> hs,
                       std::vector<raftpb::Entry> entries) {
  absl::MutexLock l(&mu_);
  queue_.push_back(Batch{std::move(hs), std::move(entries)});
}

void LogWriter::Flush() {
  absl::MutexLock l(&mu_);
  mu_.Await(absl::Condition(
      +[](LogWriter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
        return w->queue_.empty() && !w->writing_;
      },
      this));
}

bool LogWriter::Busy() {
  absl::MutexLock l(&mu_);
  return !queue_.empty() || writing_;
}

void LogWriter::Run() {
  pthread_setname_np(pthread_self(), "raft-logwriter");
  while (true) {
    std::vector<Batch> batches;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](LogWriter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return !w->queue_.empty() || w->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left to write
      batches.swap(queue_);
      writing_ = true;
    }
    // Everything that queued meanwhile is one write: the newest hard state
    // and the entries in order (contiguous, as a leader only appends).
    std::optional<raftpb::HardState> hs;
    std::vector<raftpb::Entry> entries = std::move(batches.front().entries);
    if (batches.front().hs) hs = std::move(batches.front().hs);
    for (size_t i = 1; i < batches.size(); ++i) {
      if (batches[i].hs) hs = std::move(batches[i].hs);
      for (raftpb::Entry& e : batches[i].entries) {
        entries.push_back(std::move(e));
      }
    }
    Written w;
    w.status = store_->Save(hs ? &*hs : nullptr, entries, nullptr);
    if (!entries.empty()) {
      w.index = entries.back().index();
      w.term = entries.back().term();
    }
    done_(w);
    absl::MutexLock l(&mu_);
    writing_ = false;
  }
}

}  // namespace berth::node
