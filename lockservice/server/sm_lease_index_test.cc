// The lease index of sm_kv covers only keys that have a lease, and a put
// updates an existing key in place: both keep a put without a lease from
// rewriting a random index page. These tests pin what that must not change.
#include <sqlite3.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"

namespace berth::lock::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Runs one statement on the file outside the state machine and returns the
// first column of each row, as text.
std::vector<std::string> Raw(const std::filesystem::path& file,
                             const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  std::vector<std::string> rows;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    rows.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
  }
  EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

void RawExec(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class SmLeaseIndexTest : public SmTest {
 protected:
  std::vector<std::string> KeysOf(int64_t lease) {
    absl::StatusOr<lockpb::LeaseTimeToLiveResponse> ttl =
        sm_->TimeToLive(lease, /*keys=*/true);
    EXPECT_TRUE(ttl.ok()) << ttl.status();
    if (!ttl.ok()) return {};
    return {ttl->keys().begin(), ttl->keys().end()};
  }
  std::string IndexSql() {
    std::vector<std::string> sql =
        Raw(dir_ / "replica.db",
            "SELECT sql FROM sqlite_master WHERE name = 'sm_kv_by_lease'");
    return sql.empty() ? "" : sql[0];
  }
  // Index entries, read through the index itself.
  std::vector<std::string> Indexed() {
    return Raw(dir_ / "replica.db",
               "SELECT CAST(key AS TEXT) FROM sm_kv INDEXED BY sm_kv_by_lease "
               "WHERE lease != 0 ORDER BY key");
  }
};

TEST_F(SmLeaseIndexTest, KeyMovingBetweenLeasesFollowsItsLastLease) {
  int64_t l1 = NewLease();
  int64_t l2 = NewLease();
  Ok(PutCmd("k", "1", l1));
  Ok(PutCmd("k", "2", l2));
  EXPECT_THAT(KeysOf(l1), IsEmpty());
  EXPECT_THAT(KeysOf(l2), ElementsAre("k"));

  Ok(PutCmd("k", "3"));  // no lease any more
  EXPECT_THAT(KeysOf(l2), IsEmpty());
  EXPECT_THAT(Indexed(), IsEmpty());
  Ok(RevokeCmd(l2));
  std::optional<lockpb::KeyValue> k = Get("k");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->value(), "3");
  EXPECT_EQ(k->version(), 3);
  EXPECT_EQ(k->lease(), 0);

  // Back under a lease: revoking it deletes the key again.
  int64_t l3 = NewLease();
  Ok(PutCmd("k", "4", l3));
  EXPECT_THAT(Indexed(), ElementsAre("k"));
  Ok(RevokeCmd(l3));
  EXPECT_FALSE(Get("k").has_value());
}

TEST_F(SmLeaseIndexTest, OpenRebuildsTheOldFullIndexAsPartial) {
  int64_t lease = NewLease();
  Ok(PutCmd("eph", "x", lease));
  Ok(PutCmd("plain", "y"));
  sm_.reset();
  // What a file written before the change holds: every key in the index.
  RawExec(dir_ / "replica.db",
          "DROP INDEX sm_kv_by_lease; CREATE INDEX sm_kv_by_lease ON "
          "sm_kv(lease)");
  ASSERT_THAT(IndexSql(), ::testing::Not(HasSubstr("WHERE")));

  sm_ = OpenAt("replica.db");
  ASSERT_NE(sm_, nullptr);
  EXPECT_THAT(IndexSql(), HasSubstr("WHERE lease != 0"));
  EXPECT_THAT(Indexed(), ElementsAre("eph"));
  EXPECT_THAT(KeysOf(lease), ElementsAre("eph"));
  Ok(RevokeCmd(lease));
  EXPECT_FALSE(Get("eph").has_value());
  EXPECT_TRUE(Get("plain").has_value());

  // A second open finds the partial index and leaves it alone.
  sm_.reset();
  sm_ = OpenAt("replica.db");
  EXPECT_THAT(IndexSql(), HasSubstr("WHERE lease != 0"));
}

}  // namespace
}  // namespace berth::lock::testing
