#include "agent/store/alloc_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class AllocStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-store-XXXXXX")
            .string();
    dir_ = mkdtemp(tmpl.data());
    path_ = dir_ + "/agent.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<AllocStore> OpenOk() {
    absl::StatusOr<std::unique_ptr<AllocStore>> s = AllocStore::Open(path_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // Runs raw SQL against the file, bypassing the store.
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  std::string dir_;
  std::string path_;
};

AllocRecord Running(const std::string& id) {
  AllocRecord r;
  r.alloc_id = id;
  r.job = "web";
  r.spec = std::string("\x0a\x03web\x00\xff", 7);  // binary, with a NUL
  r.state = AllocState::kRunning;
  TaskRecord t;
  t.alloc_id = id;
  t.pid = 4242;
  t.start_ticks = 123456789012ULL;
  t.cgroup = "berth/" + id;
  t.started_at = absl::FromUnixNanos(1700000000123456789);
  r.task = t;
  r.attempt = 3;
  r.start_time = absl::FromUnixNanos(1700000000000000001);
  r.reported_revision = 77;
  return r;
}

TEST_F(AllocStoreTest, PutGetRoundTripsEveryField) {
  auto store = OpenOk();
  AllocRecord r = Running("a1");
  r.SetExit(ExitStatus::OomKilled("memory.max reached"));
  r.finish_time = absl::FromUnixNanos(1700000100000000000);
  ASSERT_TRUE(store->Put(r).ok());
  absl::StatusOr<AllocRecord> got = store->Get("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, r);
  EXPECT_EQ(got->state, AllocState::kOomKilled);
  EXPECT_EQ(got->exit_reason, "memory.max reached");
  EXPECT_EQ(got->task->cgroup, "berth/a1");
  EXPECT_EQ(got->spec.size(), 7u);
}

TEST_F(AllocStoreTest, RecordWithoutTaskOrTimesStaysUnset) {
  auto store = OpenOk();
  AllocRecord r;
  r.alloc_id = "p1";
  r.job = "batch";
  r.state = AllocState::kPending;
  ASSERT_TRUE(store->Put(r).ok());
  absl::StatusOr<AllocRecord> got = store->Get("p1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->task.has_value());
  EXPECT_EQ(got->start_time, absl::InfinitePast());
  EXPECT_EQ(got->finish_time, absl::InfinitePast());
  EXPECT_EQ(got->spec, "");
  EXPECT_EQ(*got, r);
}

TEST_F(AllocStoreTest, WriteDeletesThenPutsInOneTransaction) {
  auto store = OpenOk();
  ASSERT_TRUE(store->PutMany({Running("a"), Running("b"), Running("c")}).ok());
  AllocRecord b2 = Running("b");
  b2.SetExit(ExitStatus::Exited(0));
  // "b" is deleted and put again: the put, which comes second, wins; a
  // missing id ("zz") is no error.
  ASSERT_TRUE(store
                  ->Write({.deletes = {"a", "b", "zz"},
                           .puts = {b2, Running("d")},
                           .metas = {{"rev", "7"}}})
                  .ok());
  EXPECT_EQ(*store->GetMeta("rev"), "7");
  absl::StatusOr<std::vector<AllocRecord>> all = store->List();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0], b2);
  EXPECT_EQ((*all)[1].alloc_id, "c");
  EXPECT_EQ((*all)[2].alloc_id, "d");
  // A put that fails (empty id) rolls the deletion and the meta back too.
  AllocRecord bad = Running("e");
  bad.alloc_id.clear();
  EXPECT_FALSE(
      store->Write({.deletes = {"c"}, .puts = {bad}, .metas = {{"rev", "8"}}})
          .ok());
  all = store->List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(*store->GetMeta("rev"), "7");
}

TEST_F(AllocStoreTest, PutReplacesListOrdersDeleteReports) {
  auto store = OpenOk();
  ASSERT_TRUE(store->Put(Running("b")).ok());
  ASSERT_TRUE(store->Put(Running("a")).ok());
  AllocRecord b2 = Running("b");
  b2.SetExit(ExitStatus::Killed(9));
  ASSERT_TRUE(store->Put(b2).ok());

  absl::StatusOr<std::vector<AllocRecord>> all = store->List();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].alloc_id, "a");
  EXPECT_EQ((*all)[1], b2);
  EXPECT_EQ((*all)[1].state, AllocState::kKilled);
  EXPECT_EQ((*all)[1].exit_signal, 9);

  absl::StatusOr<bool> removed = store->Delete("a");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  removed = store->Delete("a");
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
  all = store->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].alloc_id, "b");
}

TEST_F(AllocStoreTest, PutManyStoresAllOrNothing) {
  auto store = OpenOk();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutMany({Running("a"), Running("b"), Running("c")}).ok());
  absl::StatusOr<std::vector<AllocRecord>> all = store->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].alloc_id, "c");

  // An invalid record in the middle: the whole batch is refused, including
  // the replacement of "a" that came before it.
  AllocRecord a2 = Running("a");
  a2.state = AllocState::kExited;
  absl::Status st = store->PutMany({a2, AllocRecord{}, Running("d")});
  EXPECT_THAT(st.message(), HasSubstr("alloc_id is empty"));
  absl::StatusOr<AllocRecord> a = store->Get("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state, AllocState::kRunning);
  EXPECT_TRUE(absl::IsNotFound(store->Get("d").status()));
  // And the store still takes writes afterwards.
  EXPECT_TRUE(store->PutMany({Running("d")}).ok());
  EXPECT_TRUE(store->PutMany({}).ok());
}

TEST_F(AllocStoreTest, GetMissingIsNotFoundNamingIdAndPath) {
  auto store = OpenOk();
  absl::StatusOr<AllocRecord> got = store->Get("nope");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("\"nope\""));
  EXPECT_THAT(got.status().message(), HasSubstr(path_));
}

TEST_F(AllocStoreTest, EmptyIdsAreRejected) {
  auto store = OpenOk();
  AllocRecord r;
  EXPECT_EQ(store->Put(r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->SetMeta("", "x").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AllocStoreTest, MetaRoundTripsAndUnsetIsNullopt) {
  auto store = OpenOk();
  absl::StatusOr<std::optional<std::string>> v =
      store->GetMeta(kWatchRevisionKey);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
  ASSERT_TRUE(store->SetMeta(kWatchRevisionKey, "41").ok());
  ASSERT_TRUE(store->SetMeta(kWatchRevisionKey, "42").ok());
  v = store->GetMeta(kWatchRevisionKey);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value_or(""), "42");
}

TEST_F(AllocStoreTest, ReopenSeesEverythingWritten) {
  {
    auto store = OpenOk();
    ASSERT_TRUE(store->Put(Running("x")).ok());
    ASSERT_TRUE(store->Put(Running("y")).ok());
    ASSERT_TRUE(store->Delete("y").ok());
    ASSERT_TRUE(store->SetMeta(kWatchRevisionKey, "9001").ok());
  }
  auto store = OpenOk();
  absl::StatusOr<std::vector<AllocRecord>> all = store->List();
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, ElementsAre(Running("x")));
  absl::StatusOr<std::optional<std::string>> v =
      store->GetMeta(kWatchRevisionKey);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value_or(""), "9001");
}

TEST_F(AllocStoreTest, UsesWalAndRecordsSchemaVersion) {
  OpenOk();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
               "wal");
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), AllocStore::kSchemaVersion);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(AllocStoreTest, NewerSchemaVersionIsRefusedWithBothVersions) {
  OpenOk();
  RawExec("PRAGMA user_version = 99");
  absl::StatusOr<std::unique_ptr<AllocStore>> s = AllocStore::Open(path_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("schema version 99"));
  EXPECT_THAT(s.status().message(), HasSubstr("only version 1"));
  EXPECT_THAT(s.status().message(), HasSubstr(path_));
}

TEST_F(AllocStoreTest, ForeignDatabaseIsRefused) {
  RawExec("CREATE TABLE t (x)");
  absl::StatusOr<std::unique_ptr<AllocStore>> s = AllocStore::Open(path_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("not an agent store"));
  EXPECT_THAT(s.status().message(), HasSubstr(path_));
}

TEST_F(AllocStoreTest, FileThatIsNotADatabaseIsDataLossNamingPath) {
  std::ofstream(path_) << std::string(4096, 'g');
  absl::StatusOr<std::unique_ptr<AllocStore>> s = AllocStore::Open(path_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss) << s.status();
  EXPECT_THAT(s.status().message(), HasSubstr(path_));
}

TEST_F(AllocStoreTest, MissingDirectoryNamesPath) {
  std::string bad = dir_ + "/no/such/dir/agent.db";
  absl::StatusOr<std::unique_ptr<AllocStore>> s = AllocStore::Open(bad);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(bad));
  EXPECT_EQ(AllocStore::Open("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AllocStoreTest, UnknownStateOnDiskIsDataLossNamingAlloc) {
  {
    auto store = OpenOk();
    ASSERT_TRUE(store->Put(Running("z")).ok());
  }
  RawExec("UPDATE allocs SET state = 'zombie' WHERE alloc_id = 'z'");
  auto store = OpenOk();
  absl::StatusOr<AllocRecord> got = store->Get("z");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(got.status().message(), HasSubstr("\"z\""));
  EXPECT_THAT(got.status().message(), HasSubstr("zombie"));
}

TEST(AllocStateTest, NamesRoundTripAndTerminalSplit) {
  for (AllocState s :
       {AllocState::kPending, AllocState::kStarting, AllocState::kRunning,
        AllocState::kExited, AllocState::kFailed, AllocState::kOomKilled,
        AllocState::kKilled, AllocState::kLost}) {
    absl::StatusOr<AllocState> back = ParseAllocState(AllocStateName(s));
    ASSERT_TRUE(back.ok()) << AllocStateName(s);
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(AllocStateName(AllocState::kOomKilled), "oom_killed");
  EXPECT_FALSE(IsTerminal(AllocState::kRunning));
  EXPECT_TRUE(IsTerminal(AllocState::kLost));
  EXPECT_EQ(ParseAllocState("Running").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AllocRecordTest, SetExitMapsEveryKind) {
  AllocRecord r;
  r.SetExit(ExitStatus::Exited(3));
  EXPECT_EQ(r.state, AllocState::kExited);
  EXPECT_EQ(r.exit_code, 3);
  r.SetExit(ExitStatus::Failed("exec /bin/nope: No such file"));
  EXPECT_EQ(r.state, AllocState::kFailed);
  EXPECT_EQ(r.exit_reason, "exec /bin/nope: No such file");
}

}  // namespace
}  // namespace berth::agent
