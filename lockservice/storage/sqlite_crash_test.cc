// Simulated power loss: random Save/CreateSnapshot workloads on a FaultVfs
// that drops unsynced writes (all of them, or a random part) at a random
// crash point, with SQLITE_FULL injected at random writes in between.
//
// Property, checked after every crash and reopen: the file holds exactly the
// state after the last acknowledged call, or (atomicity) that state plus the
// one call that was in flight. Since MemoryStorage implements the same
// LogStore contract with no disk, it is the reference model. Exact equality
// implies the weaker Raft requirements: the hard state never regresses (term,
// vote within a term, acknowledged commit) and every acknowledged entry is
// present.
//
// BERTH_CRASH_SEEDS (default 30) sets the number of seeds; a failure prints
// its seed, and BERTH_CRASH_SEED=<n> reruns just that one.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/raft/memory_storage.h"
#include "lockservice/storage/fault_vfs.h"
#include "lockservice/storage/sqlite_storage.h"

namespace berth::storage {
namespace {

using ::testing::HasSubstr;

// Serializes the whole durable state of a LogStore for comparison.
std::string Dump(raft::LogStore& s) {
  std::string out =
      absl::StrCat("first=", s.FirstIndex(), " last=", s.LastIndex());
  auto st = s.GetInitialState();
  if (!st.ok())
    return absl::StrCat(out, " initial state error: ", st.status().ToString());
  absl::StrAppend(&out, " hs=", st->hard_state.ShortDebugString(),
                  " conf=", st->conf_state.ShortDebugString());
  auto t = s.Term(s.FirstIndex() - 1);
  absl::StrAppend(&out, " boundary_term=", t.ok() ? *t : 999999);
  auto snap = s.GetSnapshot();
  if (!snap.ok())
    return absl::StrCat(out, " snapshot error: ", snap.status().ToString());
  absl::StrAppend(&out, " snap=", snap->metadata().ShortDebugString(),
                  " snap_data=", snap->data().size(), ":",
                  std::hash<std::string>()(snap->data()));
  if (s.LastIndex() >= s.FirstIndex()) {
    auto ents = s.Entries(s.FirstIndex(), s.LastIndex() + 1, UINT64_MAX);
    if (!ents.ok())
      return absl::StrCat(out, " entries error: ", ents.status().ToString());
    for (const auto& e : *ents) {
      absl::StrAppend(&out, "\n  ", e.index(), "/", e.term(), "/", e.type(),
                      "/", e.data().size(), ":",
                      std::hash<std::string>()(e.data()));
    }
  }
  return out;
}

raftpb::ConfState Voters() {
  raftpb::ConfState cs;
  for (uint64_t id : {1, 2, 3}) cs.add_voters(id);
  return cs;
}

// One LogStore call, replayable on both the SQLite store and the model.
struct Op {
  enum Kind { kSave, kCreateSnapshot } kind = kSave;
  std::optional<raftpb::HardState> hs;
  std::vector<raftpb::Entry> entries;
  std::optional<raftpb::Snapshot> snap;
  uint64_t index = 0, compact_to = 0;
  raftpb::ConfState cs;
  std::string data;

  absl::Status Apply(raft::LogStore& s) const {
    if (kind == kCreateSnapshot) {
      return s.CreateSnapshot(index, cs, data, compact_to);
    }
    return s.Save(hs ? &*hs : nullptr, entries, snap ? &*snap : nullptr);
  }
};

std::string Payload(std::mt19937_64& rng) {
  // Mostly small entries, some that spill into SQLite overflow pages.
  size_t n = rng() % 8 == 0 ? 3000 + rng() % 6000 : rng() % 300;
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A Raft-plausible next call, given the acknowledged state in `m`.
Op NextOp(std::mt19937_64& rng, raft::MemoryStorage& m) {
  Op op;
  const raftpb::HardState cur = m.hard_state();
  const uint64_t snap_index = m.GetSnapshot()->metadata().index();
  const uint64_t r = rng() % 100;
  if (r < 12 && cur.commit() > snap_index) {
    op.kind = Op::kCreateSnapshot;
    op.index = snap_index + 1 + rng() % (cur.commit() - snap_index);
    op.compact_to = rng() % (op.index + 1);
    op.cs = Voters();
    if (rng() % 2) op.cs.add_learners(4);
    op.data = Payload(rng);
    return op;
  }
  raftpb::HardState hs = cur;
  if (rng() % 5 == 0) {
    hs.set_term(cur.term() + 1);
    hs.set_vote(rng() % 2 ? 1 + rng() % 3 : 0);
  } else if (cur.vote() == 0 && rng() % 4 == 0) {
    hs.set_vote(1 + rng() % 3);
  }
  if (hs.term() == 0) hs.set_term(1);
  uint64_t last = m.LastIndex();
  uint64_t first = m.FirstIndex();
  if (r < 17) {
    // A snapshot from the leader, ahead of (or inside) our log.
    raftpb::Snapshot snap;
    const uint64_t at = std::max(snap_index, hs.commit()) + 1 + rng() % 10;
    snap.mutable_metadata()->set_index(at);
    snap.mutable_metadata()->set_term(hs.term());
    *snap.mutable_metadata()->mutable_conf_state() = Voters();
    snap.set_data(Payload(rng));
    op.snap = snap;
    last = first = at + 1;
    --last;
    hs.set_commit(at);
  }
  if (rng() % 6 != 0) {
    // Overwrite only above the commit point, as a Raft follower would.
    uint64_t lo = std::max(hs.commit() + 1, first);
    uint64_t start = lo + rng() % (last + 2 - lo);
    uint64_t n = 1 + rng() % 12;
    for (uint64_t i = 0; i < n; ++i) {
      raftpb::Entry e;
      e.set_index(start + i);
      e.set_term(hs.term());
      e.set_type(rng() % 10 == 0 ? raftpb::ENTRY_CONF_CHANGE
                                 : raftpb::ENTRY_NORMAL);
      e.set_data(Payload(rng));
      op.entries.push_back(e);
    }
    last = start + n - 1;
  }
  if (last > hs.commit() && rng() % 2) {
    hs.set_commit(hs.commit() + 1 + rng() % (last - hs.commit()));
  }
  if (rng() % 8 != 0 || op.snap || hs.term() != cur.term()) op.hs = hs;
  return op;
}

class CrashTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto vfs = FaultVfs::Register("berth_crash_test");
    ASSERT_TRUE(vfs.ok()) << vfs.status();
    vfs_ = std::move(*vfs).release();
  }
  static void TearDownTestSuite() {
    delete vfs_;
    vfs_ = nullptr;
  }
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "sqlite_crash_test_", getpid(),
                         ".db");
    RemoveFiles();
    opts_.bootstrap = Voters();
    opts_.vfs = vfs_->name();
  }
  void TearDown() override {
    store_.reset();
    ASSERT_TRUE(vfs_->DropUnsyncedAndRevive().ok());
    RemoveFiles();
  }
  void RemoveFiles() {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove((path_ + suffix).c_str());
    }
  }
  absl::Status Reopen() {
    store_.reset();
    auto s = SqliteStorage::Open(path_, opts_);
    if (!s.ok()) return s.status();
    store_ = std::move(*s);
    return absl::OkStatus();
  }
  // Power cut: the disk dies, the process "restarts", the file is reopened.
  // With `keep_some`, some unsynced writes survive (see FaultVfs).
  absl::Status CrashAndReopen(std::mt19937_64* keep_some = nullptr) {
    vfs_->Crash();
    store_.reset();
    if (absl::Status s = vfs_->DropUnsyncedAndRevive(keep_some); !s.ok()) {
      return s;
    }
    return Reopen();
  }

  void RunSeed(uint64_t seed, int ops);

  static FaultVfs* vfs_;
  std::string path_;
  SqliteStorage::Options opts_;
  std::unique_ptr<SqliteStorage> store_;
};

FaultVfs* CrashTest::vfs_ = nullptr;

void CrashTest::RunSeed(uint64_t seed, int ops) {
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  RemoveFiles();
  ASSERT_TRUE(Reopen().ok());
  std::mt19937_64 rng(seed);
  std::unique_ptr<raft::MemoryStorage> acked =
      *raft::MemoryStorage::Bootstrap({1, 2, 3});
  int crashes = 0;
  int full_disk_errors = 0;
  for (int i = 0; i < ops; ++i) {
    SCOPED_TRACE(absl::StrCat("op ", i));
    // A quarter of the calls run towards a power cut, one in eight towards
    // a full disk.
    const uint64_t fault = rng() % 8;
    if (fault < 2) vfs_->CrashAfter(rng() % 24);
    if (fault == 2) vfs_->FailWritesAfter(rng() % 6, SQLITE_FULL);
    Op op = NextOp(rng, *acked);
    absl::Status s = op.Apply(*store_);
    if (s.ok()) {
      ASSERT_TRUE(op.Apply(*acked).ok());
    } else if (!vfs_->crashed()) {
      // A full disk: a clean error and nothing changed, in memory or in
      // the file as this process sees it.
      ASSERT_EQ(fault, 2u) << s;
      ASSERT_TRUE(absl::IsResourceExhausted(s)) << s;
      ASSERT_EQ(Dump(*store_), Dump(*acked));
      ++full_disk_errors;
    }
    if (!vfs_->crashed() && rng() % 10 != 0) {
      vfs_->ClearFaults();
      continue;
    }
    // Crash now (or the armed crash already happened) and recover.
    ++crashes;
    ASSERT_TRUE(CrashAndReopen(rng() % 2 ? &rng : nullptr).ok());
    const std::string got = Dump(*store_);
    const std::string before = Dump(*acked);
    if (got == before) continue;
    ASSERT_FALSE(s.ok()) << "an acknowledged call was lost:\n got: " << got
                         << "\nwant: " << before;
    // The failed call may still have reached the disk, but only whole.
    auto after = std::make_unique<raft::MemoryStorage>(*acked);
    ASSERT_TRUE(op.Apply(*after).ok());
    const std::string with_op = Dump(*after);
    ASSERT_EQ(got, with_op) << "state after crash is neither the acknowledged "
                               "state nor that plus the in-flight call\nwas: "
                            << before;
    acked = std::move(after);
  }
  EXPECT_GT(crashes, 0);
  RecordProperty(absl::StrCat("crashes_seed_", seed), crashes);
  RecordProperty(absl::StrCat("full_disk_errors_seed_", seed),
                 full_disk_errors);
}

TEST_F(CrashTest, RandomWorkloadsSurvivePowerLoss) {
  if (const char* one = std::getenv("BERTH_CRASH_SEED")) {
    RunSeed(std::strtoull(one, nullptr, 10), 200);
    return;
  }
  int seeds = 30;
  if (const char* n = std::getenv("BERTH_CRASH_SEEDS")) seeds = std::atoi(n);
  for (int seed = 1; seed <= seeds && !HasFatalFailure(); ++seed) {
    RunSeed(seed, 200);
  }
}

// The harness is not vacuous: with fsync turned off, a power cut loses
// writes that SQLite reported as committed.
TEST_F(CrashTest, HarnessLosesWritesThatWereNeverSynced) {
  opts_.synchronous = SqliteStorage::Synchronous::kOff;
  ASSERT_TRUE(Reopen().ok());
  raftpb::HardState hs;
  hs.set_term(1);
  for (uint64_t i = 1; i <= 5; ++i) {
    raftpb::Entry e;
    e.set_term(1);
    e.set_index(i);
    ASSERT_TRUE(store_->Save(&hs, {e}, nullptr).ok());
  }
  ASSERT_TRUE(CrashAndReopen().ok());
  EXPECT_EQ(store_->LastIndex(), 0u);
  EXPECT_EQ(store_->hard_state().term(), 0u);
}

// SQLITE_FULL from the disk: a clear error, nothing half-written, and the
// store keeps working once space is back.
TEST_F(CrashTest, DiskFullFailsCleanlyAndRecovers) {
  ASSERT_TRUE(Reopen().ok());
  raftpb::HardState hs;
  hs.set_term(1);
  raftpb::Entry e;
  e.set_term(1);
  e.set_index(1);
  e.set_data("first");
  ASSERT_TRUE(store_->Save(&hs, {e}, nullptr).ok());

  vfs_->FailWritesAfter(0, SQLITE_FULL);
  e.set_index(2);
  e.set_data(std::string(10000, 'z'));
  hs.set_commit(1);
  absl::Status s = store_->Save(&hs, {e}, nullptr);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("disk is full"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(path_));
  EXPECT_EQ(store_->LastIndex(), 1u);
  EXPECT_EQ(store_->hard_state().commit(), 0u);

  vfs_->ClearFaults();
  ASSERT_TRUE(store_->Save(&hs, {e}, nullptr).ok());
  ASSERT_TRUE(CrashAndReopen().ok());
  EXPECT_EQ(store_->LastIndex(), 2u);
  EXPECT_EQ(store_->hard_state().commit(), 1u);
  EXPECT_EQ(store_->Entries(1, 3, UINT64_MAX)->at(1).data(), e.data());
}

// A failed fsync leaves the outcome unknown: the store refuses further
// writes until reopened, and the reopened file holds the old state or the
// whole new one.
TEST_F(CrashTest, FailedSyncPoisonsUntilReopen) {
  ASSERT_TRUE(Reopen().ok());
  raftpb::HardState hs;
  hs.set_term(3);
  hs.set_vote(2);
  ASSERT_TRUE(store_->Save(&hs, {}, nullptr).ok());
  vfs_->FailSyncsAfter(0, SQLITE_IOERR_FSYNC);
  raftpb::Entry e;
  e.set_term(3);
  e.set_index(1);
  absl::Status s = store_->Save(nullptr, {e}, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(path_));
  vfs_->ClearFaults();
  s = store_->Save(nullptr, {e}, nullptr);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("reopen"));
  ASSERT_TRUE(CrashAndReopen().ok());
  EXPECT_EQ(store_->hard_state().vote(), 2u);
  EXPECT_LE(store_->LastIndex(), 1u);
  ASSERT_TRUE(store_->Save(nullptr, {e}, nullptr).ok());
}

}  // namespace
}  // namespace berth::storage
