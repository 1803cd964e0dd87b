#include "lockservice/storage/sqlite_storage.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

raftpb::Entry E(uint64_t index, uint64_t term, std::string data = "") {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data.empty() ? absl::StrCat("data-", index, "-", term) : data);
  return e;
}

std::vector<raftpb::Entry> Range(uint64_t lo, uint64_t hi, uint64_t term) {
  std::vector<raftpb::Entry> out;
  for (uint64_t i = lo; i < hi; ++i) out.push_back(E(i, term));
  return out;
}

raftpb::HardState HS(uint64_t term, uint64_t vote, uint64_t commit) {
  raftpb::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

std::vector<uint64_t> Indexes(const std::vector<raftpb::Entry>& es) {
  std::vector<uint64_t> out;
  for (const auto& e : es) out.push_back(e.index());
  return out;
}

class SqliteStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(
        ::testing::TempDir(), "sqlite_storage_test_", getpid(), "_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db");
    RemoveFiles();
    opts_.bootstrap.add_voters(1);
    opts_.bootstrap.add_voters(2);
    opts_.bootstrap.add_voters(3);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    RemoveFiles();
  }
  void RemoveFiles() {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove((path_ + suffix).c_str());
    }
  }
  void Reopen() {
    store_.reset();
    auto s = SqliteStorage::Open(path_, opts_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  // Runs raw SQL on the file with a separate connection.
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  std::string path_;
  SqliteStorage::Options opts_;
  std::unique_ptr<SqliteStorage> store_;
};

TEST_F(SqliteStorageTest, NewStoreIsEmptyWithBootstrapMembership) {
  EXPECT_EQ(store_->FirstIndex(), 1u);
  EXPECT_EQ(store_->LastIndex(), 0u);
  EXPECT_EQ(*store_->Term(0), 0u);
  auto st = store_->GetInitialState();
  ASSERT_TRUE(st.ok());
  EXPECT_THAT(st->conf_state.voters(), ElementsAre(1, 2, 3));
  EXPECT_EQ(st->hard_state.term(), 0u);
  auto snap = store_->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata().index(), 0u);
  EXPECT_THAT(snap->metadata().conf_state().voters(), ElementsAre(1, 2, 3));
}

TEST_F(SqliteStorageTest, RoundTripSurvivesReopen) {
  raftpb::HardState hs = HS(2, 1, 3);
  auto ents = Range(1, 6, 2);
  ents[2].set_type(raftpb::ENTRY_CONF_CHANGE);
  ents[4].set_data("");  // empty payloads stay empty, not NULL
  ASSERT_TRUE(store_->Save(&hs, ents, nullptr).ok());
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(store_->FirstIndex(), 1u);
    EXPECT_EQ(store_->LastIndex(), 5u);
    auto got = store_->Entries(1, 6, UINT64_MAX);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ((*got)[i].SerializeAsString(), ents[i].SerializeAsString());
    }
    EXPECT_EQ(*store_->Term(3), 2u);
    EXPECT_EQ(store_->GetInitialState()->hard_state.SerializeAsString(),
              hs.SerializeAsString());
    Reopen();
  }
}

TEST_F(SqliteStorageTest, MaxBytesCapsButReturnsAtLeastOneEntry) {
  ASSERT_TRUE(store_->Save(nullptr, Range(1, 11, 1), nullptr).ok());
  const uint64_t one = E(1, 1).ByteSizeLong();
  EXPECT_THAT(Indexes(*store_->Entries(1, 11, 0)), ElementsAre(1));
  EXPECT_THAT(Indexes(*store_->Entries(2, 11, one * 3)), ElementsAre(2, 3, 4));
  EXPECT_EQ(store_->Entries(4, 4, 100)->size(), 0u);
}

TEST_F(SqliteStorageTest, ConflictingSuffixIsTruncated) {
  ASSERT_TRUE(store_->Save(nullptr, Range(1, 6, 1), nullptr).ok());
  raftpb::HardState hs = HS(2, 0, 0);
  ASSERT_TRUE(store_->Save(&hs, Range(3, 5, 2), nullptr).ok());
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(store_->LastIndex(), 4u);
    auto got = store_->Entries(1, 5, UINT64_MAX);
    ASSERT_TRUE(got.ok());
    std::vector<uint64_t> terms;
    for (const auto& e : *got) terms.push_back(e.term());
    EXPECT_THAT(terms, ElementsAre(1, 1, 2, 2));
    EXPECT_EQ((*got)[2].data(), "data-3-2");
    EXPECT_TRUE(raft::IsUnavailableIndex(store_->Term(5).status()));
    Reopen();
  }
}

TEST_F(SqliteStorageTest, ErrorConventions) {
  ASSERT_TRUE(store_->Save(nullptr, Range(1, 11, 1), nullptr).ok());
  EXPECT_TRUE(raft::IsCompacted(store_->Entries(0, 3, 100).status()));
  EXPECT_TRUE(raft::IsUnavailableIndex(store_->Entries(5, 12, 100).status()));
  EXPECT_TRUE(raft::IsUnavailableIndex(store_->Term(11).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Entries(6, 5, 100).status()));
  raftpb::HardState hs = HS(1, 0, 10);
  ASSERT_TRUE(store_->Save(&hs, {}, nullptr).ok());
  ASSERT_TRUE(store_->CreateSnapshot(8, {}, "img", 6).ok());
  EXPECT_EQ(store_->FirstIndex(), 7u);
  EXPECT_EQ(*store_->Term(6), 1u);  // FirstIndex()-1 keeps its term
  EXPECT_TRUE(raft::IsCompacted(store_->Term(5).status()));
  EXPECT_TRUE(raft::IsCompacted(store_->Entries(6, 8, 100).status()));
  EXPECT_THAT(Indexes(*store_->Entries(7, 11, UINT64_MAX)),
              ElementsAre(7, 8, 9, 10));
}

TEST_F(SqliteStorageTest, CreateSnapshotCompactsAndSurvivesReopen) {
  raftpb::HardState hs = HS(3, 2, 10);
  auto ents = Range(1, 6, 2);
  auto more = Range(6, 11, 3);
  ents.insert(ents.end(), more.begin(), more.end());
  ASSERT_TRUE(store_->Save(&hs, ents, nullptr).ok());
  raftpb::ConfState cs;
  cs.add_voters(1);
  cs.add_voters(2);
  cs.add_learners(4);
  ASSERT_TRUE(store_->CreateSnapshot(8, cs, "state-image", 5).ok());
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(store_->FirstIndex(), 6u);
    EXPECT_EQ(store_->LastIndex(), 10u);
    EXPECT_EQ(*store_->Term(5), 2u);
    EXPECT_EQ(*store_->Term(8), 3u);
    auto snap = store_->GetSnapshot();
    ASSERT_TRUE(snap.ok());
    EXPECT_EQ(snap->metadata().index(), 8u);
    EXPECT_EQ(snap->metadata().term(), 3u);
    EXPECT_EQ(snap->data(), "state-image");
    EXPECT_THAT(store_->GetInitialState()->conf_state.learners(),
                ElementsAre(4));
    EXPECT_THAT(Indexes(*store_->Entries(6, 11, UINT64_MAX)),
                ElementsAre(6, 7, 8, 9, 10));
    Reopen();
  }
  // Compacting the whole log leaves it empty but keeps the boundary term.
  ASSERT_TRUE(store_->CreateSnapshot(10, cs, "img2", 10).ok());
  Reopen();
  EXPECT_EQ(store_->FirstIndex(), 11u);
  EXPECT_EQ(store_->LastIndex(), 10u);
  EXPECT_EQ(*store_->Term(10), 3u);
  ASSERT_TRUE(store_->Save(nullptr, Range(11, 13, 3), nullptr).ok());
  EXPECT_THAT(Indexes(*store_->Entries(11, 13, UINT64_MAX)),
              ElementsAre(11, 12));
}

// Rows of raft_log, compacted or not, read through the store's connection.
int64_t LogRows(SqliteStorage& s) {
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(s.db(), "SELECT count(*) FROM raft_log", -1, &st,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return n;
}

TEST_F(SqliteStorageTest, CompactedEntriesAreDeletedInBoundedSteps) {
  constexpr uint64_t kStep = SqliteStorage::kPurgeStepEntries;
  raftpb::HardState hs = HS(1, 1, 3 * kStep + 500);
  ASSERT_TRUE(store_->Save(&hs, Range(1, 3 * kStep + 501, 1), nullptr).ok());
  raftpb::ConfState cs;
  cs.add_voters(1);
  ASSERT_TRUE(
      store_->CreateSnapshot(3 * kStep + 500, cs, "img", 3 * kStep + 200).ok());
  // The compaction point moved at once; only one step of rows went.
  EXPECT_EQ(store_->FirstIndex(), 3 * kStep + 201);
  EXPECT_TRUE(raft::IsCompacted(store_->Entries(10, 20, 100).status()));
  EXPECT_EQ(LogRows(*store_), static_cast<int64_t>(2 * kStep + 500));
  // Reopening with compacted rows still stored is fine.
  Reopen();
  EXPECT_EQ(store_->FirstIndex(), 3 * kStep + 201);
  EXPECT_EQ(store_->LastIndex(), 3 * kStep + 500);
  EXPECT_THAT(
      Indexes(*store_->Entries(3 * kStep + 499, 3 * kStep + 501, UINT64_MAX)),
      ElementsAre(3 * kStep + 499, 3 * kStep + 500));
  // Each later write takes one more step.
  uint64_t next = 3 * kStep + 501;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->Save(nullptr, {E(next, 1)}, nullptr).ok());
    ++next;
  }
  EXPECT_EQ(LogRows(*store_), 300 + 3);  // 3*kStep+201 .. next-1
  EXPECT_THAT(
      Indexes(*store_->Entries(3 * kStep + 201, 3 * kStep + 203, UINT64_MAX)),
      ElementsAre(3 * kStep + 201, 3 * kStep + 202));
}

TEST_F(SqliteStorageTest, SaveInstallsSnapshotAndResetsLog) {
  ASSERT_TRUE(store_->Save(nullptr, Range(1, 6, 1), nullptr).ok());
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(20);
  snap.mutable_metadata()->set_term(4);
  snap.mutable_metadata()->mutable_conf_state()->add_voters(7);
  snap.set_data("remote-image");
  raftpb::HardState hs = HS(4, 0, 20);
  // Entries at or below the snapshot are ignored, the rest are appended.
  ASSERT_TRUE(store_->Save(&hs, Range(19, 23, 4), &snap).ok());
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(store_->FirstIndex(), 21u);
    EXPECT_EQ(store_->LastIndex(), 22u);
    EXPECT_EQ(*store_->Term(20), 4u);
    EXPECT_TRUE(raft::IsCompacted(store_->Entries(5, 6, 10).status()));
    EXPECT_EQ(store_->GetSnapshot()->data(), "remote-image");
    EXPECT_THAT(store_->GetInitialState()->conf_state.voters(), ElementsAre(7));
    Reopen();
  }
  raftpb::Snapshot old = snap;
  old.mutable_metadata()->set_index(10);
  absl::Status s = store_->Save(nullptr, {}, &old);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("older than the current snapshot"));
}

TEST_F(SqliteStorageTest, BadBatchesAreRejectedAndChangeNothing) {
  raftpb::HardState hs = HS(5, 2, 3);
  ASSERT_TRUE(store_->Save(&hs, Range(1, 4, 5), nullptr).ok());
  struct Case {
    const char* name;
    raftpb::HardState hs;
    std::vector<raftpb::Entry> ents;
    std::string want;
  };
  std::vector<Case> cases = {
      {"gap inside batch", HS(5, 2, 3), {E(4, 5), E(6, 5)}, "not contiguous"},
      {"gap after last", HS(5, 2, 3), {E(6, 5)}, "gap after the last index 3"},
      {"term goes down", HS(5, 2, 3), {E(4, 5), E(5, 4)}, "below"},
      {"term below last entry", HS(5, 2, 3), {E(4, 4)}, "below"},
      {"index zero", HS(5, 2, 3), {E(0, 5)}, "index 0"},
      {"hard state term regresses", HS(4, 2, 3), {}, "go back from 5 to 4"},
      {"vote changes in a term", HS(5, 3, 3), {}, "would change from 2 to 3"},
  };
  for (const Case& c : cases) {
    absl::Status s = store_->Save(&c.hs, c.ents, nullptr);
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_THAT(s.message(), HasSubstr(c.want)) << c.name;
  }
  absl::Status s = store_->CreateSnapshot(9, {}, "", 1);
  EXPECT_THAT(s.message(), HasSubstr("above the last index 3"));
  s = store_->CreateSnapshot(2, {}, "", 3);
  EXPECT_THAT(s.message(), HasSubstr("compact_to 3 is above"));
  ASSERT_TRUE(store_->CreateSnapshot(2, {}, "", 1).ok());
  s = store_->CreateSnapshot(2, {}, "", 1);
  EXPECT_THAT(s.message(), HasSubstr("not newer than the current snapshot"));
  Reopen();
  EXPECT_EQ(store_->LastIndex(), 3u);
  EXPECT_EQ(store_->hard_state().SerializeAsString(), hs.SerializeAsString());
}

TEST_F(SqliteStorageTest, UnknownSchemaVersionIsNamed) {
  store_.reset();
  RawExec("PRAGMA user_version=99");
  auto s = SqliteStorage::Open(path_, opts_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("schema version 99"));
  EXPECT_THAT(s.status().message(), HasSubstr(path_));
}

TEST_F(SqliteStorageTest, ForeignDatabaseIsRefused) {
  store_.reset();
  RemoveFiles();
  RawExec("CREATE TABLE something_else (x)");
  auto s = SqliteStorage::Open(path_, opts_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("not a berth raft store"));
}

TEST_F(SqliteStorageTest, GarbageFileIsRefusedWithPath) {
  store_.reset();
  RemoveFiles();
  std::ofstream(path_) << std::string(8192, 'x');
  auto s = SqliteStorage::Open(path_, opts_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("not a database"));
  EXPECT_THAT(s.status().message(), HasSubstr(path_));
}

TEST_F(SqliteStorageTest, ExclusiveStoreRefusesASecondOpen) {
  opts_.exclusive = true;
  Reopen();
  ASSERT_TRUE(store_->Save(nullptr, Range(1, 2, 1), nullptr).ok());
  SqliteStorage::Options o = opts_;
  o.busy_timeout_ms = 0;
  auto second = SqliteStorage::Open(path_, o);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_THAT(second.status().message(),
              HasSubstr("locked by another connection or process"));
  EXPECT_THAT(second.status().message(), HasSubstr(path_));
}

TEST_F(SqliteStorageTest, MissingFileWithoutCreateIsRefused) {
  SqliteStorage::Options o = opts_;
  o.create_if_missing = false;
  const std::string missing = path_ + ".missing";
  auto s = SqliteStorage::Open(missing, o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(missing));
}

TEST_F(SqliteStorageTest, BadBootstrapIsRefused) {
  SqliteStorage::Options o;
  o.bootstrap.add_voters(1);
  o.bootstrap.add_voters(1);
  auto s = SqliteStorage::Open(path_ + ".2", o);
  EXPECT_THAT(s.status().message(), HasSubstr("node id 1 is listed twice"));
  EXPECT_TRUE(SqliteStorage::Open("", o).status().message().find(
                  "empty file path") != std::string::npos);
}

TEST_F(SqliteStorageTest, StateMachineTablesShareTheFile) {
  ASSERT_TRUE(
      Exec(store_->db(), "CREATE TABLE sm_kv (k TEXT PRIMARY KEY, v)").ok());
  {
    auto tx = Transaction::Begin(store_->db());
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(Exec(store_->db(), "INSERT INTO sm_kv VALUES ('a', 1)").ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  {
    // An abandoned transaction rolls back. A Save while it is open is
    // refused with a clear error and does not poison the store.
    auto tx = Transaction::Begin(store_->db());
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(Exec(store_->db(), "INSERT INTO sm_kv VALUES ('b', 2)").ok());
    absl::Status s = store_->Save(nullptr, Range(1, 2, 1), nullptr);
    EXPECT_THAT(s.message(), HasSubstr("within a transaction"));
  }
  ASSERT_TRUE(store_->Save(nullptr, Range(1, 3, 1), nullptr).ok());
  Reopen();
  auto q = Statement::Prepare(store_->db(), "SELECT count(*) FROM sm_kv");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(*(*q)->Step());
  EXPECT_EQ((*q)->ColumnInt(0), 1);
  EXPECT_EQ(store_->LastIndex(), 2u);
}

// lockd's layout: the state machine opens its own connection to the same
// file, possibly before the raft schema exists.
TEST_F(SqliteStorageTest, StateMachineMayUseItsOwnConnection) {
  store_.reset();
  RemoveFiles();
  RawExec(
      "PRAGMA journal_mode=WAL; CREATE TABLE sm_kv (k TEXT PRIMARY KEY, v);"
      "CREATE INDEX sm_kv_v ON sm_kv (v)");
  Reopen();
  sqlite3* sm = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &sm), SQLITE_OK);
  for (uint64_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(store_->Save(nullptr, {E(i, 1)}, nullptr).ok());
    const std::string sql =
        absl::StrCat("INSERT INTO sm_kv VALUES ('k", i, "', ", i, ")");
    ASSERT_EQ(sqlite3_exec(sm, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(sm);
  }
  sqlite3_close(sm);
  Reopen();
  EXPECT_EQ(store_->LastIndex(), 3u);
  auto q = Statement::Prepare(store_->db(), "SELECT count(*) FROM sm_kv");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(*(*q)->Step());
  EXPECT_EQ((*q)->ColumnInt(0), 3);
}

// A full disk, emulated with max_page_count, fails the Save with a clear
// error, leaves the store usable, and the file consistent after reopen.
TEST_F(SqliteStorageTest, FullDiskFailsCleanly) {
  ASSERT_TRUE(Exec(store_->db(), "PRAGMA max_page_count=40").ok());
  uint64_t next = 1;
  absl::Status s;
  for (int i = 0; i < 1000 && s.ok(); ++i) {
    std::vector<raftpb::Entry> batch;
    for (int j = 0; j < 4; ++j, ++next) {
      batch.push_back(E(next, 1, std::string(1000, 'a' + next % 26)));
    }
    raftpb::HardState hs = HS(1, 1, next - 1);
    s = store_->Save(&hs, batch, nullptr);
    if (!s.ok()) next -= 4;
  }
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("full"));
  EXPECT_THAT(s.message(), HasSubstr(path_));
  const uint64_t acked = next - 1;
  EXPECT_EQ(store_->LastIndex(), acked);
  // Still usable: compaction frees pages, then writes succeed again.
  ASSERT_TRUE(store_->CreateSnapshot(acked, {}, "", acked).ok());
  ASSERT_TRUE(store_->Save(nullptr, {E(acked + 1, 1)}, nullptr).ok());
  Reopen();
  EXPECT_EQ(store_->LastIndex(), acked + 1);
  EXPECT_EQ(store_->hard_state().commit(), acked);
  EXPECT_EQ(store_->Entries(acked + 1, acked + 2, 0)->at(0).data(),
            E(acked + 1, 1).data());
}

}  // namespace
}  // namespace berth::storage
