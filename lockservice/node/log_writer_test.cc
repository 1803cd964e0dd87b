#include "lockservice/node/log_writer.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/raft/memory_storage.h"

namespace berth::node {
namespace {

using ::testing::ElementsAre;

raftpb::Entry E(uint64_t index, uint64_t term) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  return e;
}

std::vector<raftpb::Entry> Range(uint64_t lo, uint64_t hi, uint64_t term) {
  std::vector<raftpb::Entry> out;
  for (uint64_t i = lo; i <= hi; ++i) out.push_back(E(i, term));
  return out;
}

raftpb::Message Ack(uint64_t index) {
  raftpb::Message m;
  m.set_type(raftpb::MSG_APP_RESP);
  m.set_index(index);
  return m;
}

// Records every call, in order, as one line; a Save can be parked (the
// disk's fsync "takes" until Release) or made to fail.
class ScriptedStore : public raft::LogStore {
 public:
  ScriptedStore() : inner_(*raft::MemoryStorage::Bootstrap({1})) {}

  absl::StatusOr<raft::InitialState> GetInitialState() override {
    return inner_->GetInitialState();
  }
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) override {
    return inner_->Entries(lo, hi, max_bytes);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) override { return inner_->Term(i); }
  uint64_t FirstIndex() override { return inner_->FirstIndex(); }
  uint64_t LastIndex() override { return inner_->LastIndex(); }
  absl::StatusOr<raftpb::Snapshot> GetSnapshot() override {
    return inner_->GetSnapshot();
  }
  absl::Status Save(const raftpb::HardState* hs,
                    const std::vector<raftpb::Entry>& entries,
                    const raftpb::Snapshot* snap) override {
    std::string line = "save";
    if (hs != nullptr) absl::StrAppend(&line, " hs");
    for (const raftpb::Entry& e : entries) {
      absl::StrAppend(&line, " ", e.index(), "/", e.term());
    }
    absl::MutexLock l(&mu_);
    log_.push_back(line);
    mu_.Await(absl::Condition(
        +[](ScriptedStore* s)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return !s->park_; },
        this));
    if (fail_) return absl::ResourceExhaustedError("disk full");
    return inner_->Save(hs, entries, snap);
  }
  absl::Status CreateSnapshot(uint64_t index, const raftpb::ConfState& cs,
                              std::string data, uint64_t compact_to) override {
    absl::MutexLock l(&mu_);
    log_.push_back(absl::StrCat("compact ", index, " to ", compact_to));
    return absl::OkStatus();
  }

  // Called by the writer's send and done callbacks.
  void Note(std::string line) {
    absl::MutexLock l(&mu_);
    log_.push_back(std::move(line));
  }
  void Park() {
    absl::MutexLock l(&mu_);
    park_ = true;
  }
  void Release() {
    absl::MutexLock l(&mu_);
    park_ = false;
  }
  void FailSaves() {
    absl::MutexLock l(&mu_);
    fail_ = true;
  }
  // Waits, with a deadline, until `n` lines were recorded.
  bool AwaitLines(size_t n) {
    absl::MutexLock l(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return log_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  std::vector<std::string> Log() {
    absl::MutexLock l(&mu_);
    return log_;
  }

 private:
  std::unique_ptr<raft::MemoryStorage> inner_;
  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
  bool park_ ABSL_GUARDED_BY(mu_) = false;
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
};

class LogWriterTest : public ::testing::Test {
 protected:
  LogWriterTest()
      : writer_(
            &store_,
            [this](std::vector<raftpb::Message> msgs) {
              std::string line = "send";
              for (const raftpb::Message& m : msgs) {
                absl::StrAppend(&line, " ack", m.index());
              }
              store_.Note(line);
            },
            [this](const LogWriter::Written& w) {
              store_.Note(absl::StrCat("done ", w.index, "/", w.term, " ",
                                       w.status.ok() ? "ok" : "failed"));
            }) {}

  ScriptedStore store_;
  LogWriter writer_;
};

TEST(MergeEntriesTest, LaterWriteReplacesTheSuffixItOverlaps) {
  std::vector<raftpb::Entry> log = Range(5, 9, 1);
  MergeEntries(log, Range(8, 10, 2));
  ASSERT_EQ(log.size(), 6u);
  EXPECT_EQ(log[2].index(), 7u);
  EXPECT_EQ(log[2].term(), 1u);
  EXPECT_EQ(log[3].index(), 8u);
  EXPECT_EQ(log[3].term(), 2u);
  EXPECT_EQ(log.back().index(), 10u);

  MergeEntries(log, Range(3, 4, 3));  // below everything: replaces it all
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log.front().index(), 3u);
  EXPECT_EQ(log.back().term(), 3u);

  MergeEntries(log, {});
  EXPECT_EQ(log.size(), 2u);
}

// Writes that queue behind a running fsync go out as one Save, and the acks
// submitted with them leave only after it, in order, before `done`.
TEST_F(LogWriterTest, QueuedWritesShareOneSaveAndTheirAcksFollowIt) {
  store_.Park();
  writer_.Submit({std::nullopt, Range(1, 1, 1), {Ack(1)}});
  ASSERT_TRUE(store_.AwaitLines(1));  // "save 1/1", parked
  writer_.Submit({std::nullopt, Range(2, 3, 1), {Ack(3)}});
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(2);
  writer_.Submit({hs, Range(3, 4, 1), {Ack(4)}});
  EXPECT_TRUE(writer_.Busy());
  // Nothing is acknowledged while the first write's fsync runs.
  EXPECT_THAT(store_.Log(), ElementsAre("save 1/1"));
  store_.Release();
  writer_.Flush();
  EXPECT_FALSE(writer_.Busy());
  EXPECT_THAT(store_.Log(), ElementsAre("save 1/1", "send ack1", "done 1/1 ok",
                                        "save hs 2/1 3/1 4/1", "send ack3 ack4",
                                        "done 4/1 ok"));
  EXPECT_EQ(store_.LastIndex(), 4u);
}

// A failed write sends nothing, and nothing after it is written: a later
// write's acks would claim the lost one durable.
TEST_F(LogWriterTest, AFailedWriteSendsNoAcksAndStopsLaterWrites) {
  store_.FailSaves();
  writer_.Submit({std::nullopt, Range(1, 1, 1), {Ack(1)}});
  writer_.Flush();
  writer_.Submit({std::nullopt, Range(2, 2, 1), {Ack(2)}});
  writer_.Flush();
  EXPECT_THAT(store_.Log(),
              ElementsAre("save 1/1", "done 1/1 failed", "done 2/1 failed"));
}

// The driver applies on the same file: it asks the writer to pause after
// the job in progress instead of waiting for its fsync, and the writer
// starts nothing more until the driver is done.
TEST_F(LogWriterTest, YieldPausesTheWriterAfterTheJobInProgress) {
  EXPECT_FALSE(writer_.YieldIfWriting());  // idle: the file is free
  store_.Park();
  writer_.Submit({std::nullopt, Range(1, 1, 1), {}});
  ASSERT_TRUE(store_.AwaitLines(1));
  EXPECT_TRUE(writer_.YieldIfWriting());
  writer_.Submit({std::nullopt, Range(2, 2, 1), {}});
  writer_.Compact(1, raftpb::ConfState(), 0);
  store_.Release();
  ASSERT_TRUE(store_.AwaitLines(2));  // "done 1/1 ok"
  // Paused: the queued write has not started. (A started Save would add
  // its line before parking on nothing; Busy stays true either way.)
  EXPECT_TRUE(writer_.Busy());
  std::vector<std::string> paused = store_.Log();
  EXPECT_THAT(paused, ElementsAre("save 1/1", "done 1/1 ok"));
  writer_.EndYield();
  writer_.Flush();
  EXPECT_THAT(store_.Log(),
              ElementsAre("save 1/1", "done 1/1 ok", "save 2/1", "done 2/1 ok",
                          "compact 1 to 0", "done 0/0 ok"));
}

}  // namespace
}  // namespace berth::node
