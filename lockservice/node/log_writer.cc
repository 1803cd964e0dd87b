#include "lockservice/node/log_writer.h"

#include <pthread.h>

#include <cstdio>
#include <string>
#include <utility>

namespace berth::node {

void MergeEntries(std::vector<raftpb::Entry>& log,
                  std::vector<raftpb::Entry>&& next) {
  if (next.empty()) return;
  const uint64_t from = next.front().index();
  while (!log.empty() && log.back().index() >= from) log.pop_back();
  if (log.empty()) {
    log = std::move(next);
    return;
  }
  for (raftpb::Entry& e : next) log.push_back(std::move(e));
}

LogWriter::LogWriter(raft::LogStore* store, SendFn send, DoneFn done,
                     absl::Duration slow)
    : store_(store),
      slow_(slow),
      send_(std::move(send)),
      done_(std::move(done)) {
  thread_ = std::thread([this] { Run(); });
}

LogWriter::~LogWriter() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void LogWriter::Submit(Write w) {
  absl::MutexLock l(&mu_);
  queue_.push_back(Job{std::move(w)});
}

void LogWriter::Compact(uint64_t index, raftpb::ConfState cs,
                        uint64_t compact_to) {
  absl::MutexLock l(&mu_);
  Job j;
  j.compact_cs = std::move(cs);
  j.compact_index = index;
  j.compact_to = compact_to;
  queue_.push_back(std::move(j));
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

bool LogWriter::YieldIfWriting() {
  absl::MutexLock l(&mu_);
  if (!writing_) return false;
  yield_ = true;
  return true;
}

void LogWriter::EndYield() {
  absl::MutexLock l(&mu_);
  yield_ = false;
}

void LogWriter::Run() {
  pthread_setname_np(pthread_self(), "raft-logwriter");
  // After a failed write nothing later may be written: a later write's
  // acks would claim the lost one durable.
  absl::Status failed;
  while (true) {
    std::vector<Job> jobs;
    {
      absl::MutexLock l(&mu_);
      // A stopping writer ignores a yield: its driver is gone.
      mu_.Await(absl::Condition(
          +[](LogWriter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return (!w->queue_.empty() && !w->yield_) || w->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left to write
      // The next job: one compaction, or every write queued before the
      // next compaction (one Save, one fsync).
      size_t n = 1;
      if (!queue_.front().compact_cs) {
        while (n < queue_.size() && !queue_[n].compact_cs) ++n;
      }
      jobs.assign(std::make_move_iterator(queue_.begin()),
                  std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
      writing_ = true;
    }
    Written w;
    const absl::Time start = absl::Now();
    size_t entries_written = 0;
    if (jobs.front().compact_cs) {
      const Job& j = jobs.front();
      absl::Status st =
          failed.ok() ? store_->CreateSnapshot(j.compact_index, *j.compact_cs,
                                               /*data=*/"", j.compact_to)
                      : failed;
      if (!st.ok()) {
        fprintf(stderr, "raft log writer: compacting the log failed: %s\n",
                std::string(st.message()).c_str());
      }
    } else {
      // The newest hard state and the entries in order, later writes
      // replacing what they overlap.
      std::optional<raftpb::HardState> hs;
      std::vector<raftpb::Entry> entries;
      std::vector<raftpb::Message> msgs;
      for (Job& j : jobs) {
        if (j.write.hs) hs = std::move(j.write.hs);
        MergeEntries(entries, std::move(j.write.entries));
        for (raftpb::Message& m : j.write.then_send) {
          msgs.push_back(std::move(m));
        }
      }
      if (failed.ok() && (hs || !entries.empty())) {
        failed = store_->Save(hs ? &*hs : nullptr, entries, nullptr);
      }
      entries_written = entries.size();
      w.status = failed;
      if (!entries.empty()) {
        w.index = entries.back().index();
        w.term = entries.back().term();
      }
      if (failed.ok() && !msgs.empty()) send_(std::move(msgs));
    }
    if (const absl::Duration took = absl::Now() - start; took > slow_) {
      const long long ms = absl::ToInt64Milliseconds(took);
      if (jobs.front().compact_cs) {
        fprintf(stderr, "raft log writer: slow log compaction took %lld ms\n",
                ms);
      } else {
        fprintf(stderr,
                "raft log writer: slow log write (%zu entries) took %lld ms\n",
                entries_written, ms);
      }
    }
    done_(w);
    absl::MutexLock l(&mu_);
    writing_ = false;
  }
}

}  // namespace berth::node
