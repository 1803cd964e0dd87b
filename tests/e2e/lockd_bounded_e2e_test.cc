// End-to-end tests of berth-lockd's bounded growth on real 3-replica
// clusters on 127.0.0.1: automatic history compaction under a write loop,
// and the NOSPACE quota alarm with a defrag (the RPC behind `berth cluster
// defrag`) clearing it.
#include <sqlite3.h>

#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<grpc::Channel> Borrow(grpc::Channel* ch) {
  return std::shared_ptr<grpc::Channel>(ch, [](auto*) {});
}

grpc::Status Put(RawClient& rc, const std::string& k, const std::string& v) {
  return rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
    lockpb::PutRequest req;
    req.set_key(k);
    req.set_value(v);
    lockpb::PutResponse resp;
    return lockpb::KV::NewStub(Borrow(ch))->Put(ctx, req, &resp);
  });
}

grpc::Status Delete(RawClient& rc, const std::string& k,
                    const std::string& end = "") {
  return rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
    lockpb::DeleteRangeRequest req;
    req.set_key(k);
    req.set_range_end(end);
    lockpb::DeleteRangeResponse resp;
    return lockpb::KV::NewStub(Borrow(ch))->DeleteRange(ctx, req, &resp);
  });
}

// One replica's own view (Status is answered locally).
std::optional<lockpb::StatusResponse> StatusOf(LockdCluster& c, uint64_t id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  lockpb::StatusResponse resp;
  grpc::Status st = lockpb::Cluster::NewStub(c.Channel(id))
                        ->Status(&ctx, lockpb::StatusRequest(), &resp);
  if (!st.ok()) return std::nullopt;
  return resp;
}

// Rows of sm_events in a replica's file, read through a separate read-only
// connection (WAL lets it read beside the running replica).
int64_t StoredEvents(LockdCluster& c, uint64_t id) {
  std::string path = absl::StrCat(c.dir(), "/r", id, "/lockd.db");
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sm_events", -1, &st,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

// One replica's Defragment RPC; true if its file shrank.
bool Defragment(LockdCluster& c, uint64_t id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  lockpb::DefragmentResponse resp;
  grpc::Status st = lockpb::Cluster::NewStub(c.Channel(id))
                        ->Defragment(&ctx, lockpb::DefragmentRequest(), &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return st.ok() && resp.size_after_bytes() < resp.size_before_bytes();
}

TEST(LockdBoundedE2E, AutoCompactionKeepsHistoryAndDatabaseBounded) {
  constexpr int64_t kRetention = 200;
  LockdCluster c(3, {"--auto-compaction-mode=revision",
                     absl::StrCat("--auto-compaction-retention=", kRetention),
                     "--snapshot-every=100", "--snapshot-keep-entries=50"});
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  RawClient rc(&c);
  const std::string value(1024, 'v');
  int64_t last_oldest = 0;
  // phase -> the leader's file size and the part of it in use
  std::map<int, int64_t> total, in_use;
  for (int phase = 0; phase < 4; ++phase) {
    for (int i = 0; i < 800; ++i) {
      ASSERT_TRUE(Put(rc, absl::StrCat("/loop/", i % 20), value).ok());
    }
    // Every replica's oldest available revision catches up with the
    // retention (one compaction step, a tenth of it, may be pending).
    int64_t oldest = 0;
    for (uint64_t id = 1; id <= 3; ++id) {
      ASSERT_TRUE(WaitFor([&] {
        std::optional<lockpb::StatusResponse> s = StatusOf(c, id);
        if (!s) return false;
        oldest = s->compact_revision();
        return s->header().revision() >= 800 * (phase + 1) &&
               oldest >= s->header().revision() - kRetention - kRetention / 10;
      })) << "replica "
          << id << " phase " << phase;
      // History rows on disk are bounded too (the purge caught up).
      ASSERT_TRUE(WaitFor([&] {
        int64_t n = StoredEvents(c, id);
        return n >= 0 && n <= kRetention + kRetention / 10 + 1;
      })) << "replica "
          << id << " keeps " << StoredEvents(c, id) << " events";
    }
    EXPECT_GT(oldest, last_oldest) << "phase " << phase;
    last_oldest = oldest;
    std::optional<lockpb::StatusResponse> s = StatusOf(c, c.AwaitLeader());
    ASSERT_TRUE(s.has_value());
    in_use[phase] = s->db_size_in_use_bytes();
    total[phase] = s->db_size_bytes();
  }
  // The first phase fills the history and the log to their bounds. After
  // that, without compaction, each phase would add 800 PUT events holding
  // the value and the previous value (1.6 MiB), 3.2 MiB from phase 1 to
  // phase 3. What is left is the Raft log's position in its snapshot cycle
  // (at most 150 entries, ~160 KiB) and B-tree slack.
  EXPECT_LT(in_use[3] - in_use[1], 512 * 1024)
      << "in use: " << in_use[1] << " -> " << in_use[3];
  EXPECT_LT(total[3] - total[1], 1 << 20)
      << "file: " << total[1] << " -> " << total[3];

  // A watcher that fell behind gets the explicit "compacted" answer.
  grpc::ClientContext wctx;
  wctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = lockpb::Watch::NewStub(c.Channel(1))->Watch(&wctx);
  lockpb::WatchRequest wreq;
  wreq.mutable_create_request()->set_key("/loop/");
  wreq.mutable_create_request()->set_range_end("/loop0");
  wreq.mutable_create_request()->set_start_revision(1);
  ASSERT_TRUE(stream->Write(wreq));
  lockpb::WatchResponse wresp;
  bool canceled = false;
  while (stream->Read(&wresp)) {
    if (wresp.canceled()) {
      canceled = true;
      break;
    }
  }
  ASSERT_TRUE(canceled);
  EXPECT_GT(wresp.compact_revision(), 1);
  EXPECT_THAT(wresp.cancel_reason(), HasSubstr("compacted"));
  wctx.TryCancel();
}

TEST(LockdBoundedE2E, QuotaRefusesGrowthUntilCompactAndDefrag) {
  constexpr int64_t kQuota = 3 << 20;
  LockdCluster c(3, {absl::StrCat("--quota-backend-bytes=", kQuota),
                     "--auto-compaction-mode=off", "--snapshot-every=20",
                     "--snapshot-keep-entries=5"});
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  RawClient rc(&c);
  ASSERT_TRUE(Put(rc, "/marker", "m").ok());
  const std::string value(64 * 1024, 'q');
  grpc::Status refused;
  for (int i = 0; i < 400 && refused.ok(); ++i) {
    grpc::Status st = Put(rc, absl::StrCat("/big/", i), value);
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
      refused = st;
    else
      ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "never refused";
  EXPECT_THAT(refused.error_message(),
              testing::AllOf(HasSubstr("--quota-backend-bytes"),
                             HasSubstr("3.0 MiB"), HasSubstr("defrag")));

  // Every replica shows the alarm; reads are still served.
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(WaitFor([&] {
      std::optional<lockpb::StatusResponse> s = StatusOf(c, id);
      return s && s->alarms_size() == 1;
    })) << "replica "
        << id;
  }
  std::optional<lockpb::StatusResponse> alarmed = StatusOf(c, 2);
  ASSERT_TRUE(alarmed.has_value());
  ASSERT_EQ(alarmed->alarms_size(), 1);
  EXPECT_THAT(alarmed->alarms(0), HasSubstr("database space exceeded"));
  EXPECT_EQ(alarmed->quota_backend_bytes(), kQuota);
  grpc::Status read =
      rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
        lockpb::RangeRequest req;
        req.set_key("/big/0");
        lockpb::RangeResponse resp;
        grpc::Status st =
            lockpb::KV::NewStub(Borrow(ch))->Range(ctx, req, &resp);
        if (st.ok() && resp.kvs_size() != 1) {
          return grpc::Status(grpc::StatusCode::INTERNAL, "key missing");
        }
        return st;
      });
  EXPECT_TRUE(read.ok()) << read.error_message();

  // Make room: deletes and compaction are accepted under the alarm.
  ASSERT_TRUE(Delete(rc, "/big/", "/big0").ok());
  // The DELETE events keep the deleted values; one more revision (deletes
  // are allowed) lets the compaction drop them too.
  ASSERT_TRUE(Delete(rc, "/marker").ok());
  int64_t rev = 0;
  ASSERT_TRUE(WaitFor([&] {
    std::optional<lockpb::StatusResponse> s = StatusOf(c, c.AwaitLeader());
    if (s) rev = s->header().revision();
    return s.has_value();
  }));
  grpc::Status compact =
      rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
        lockpb::CompactionRequest req;
        req.set_revision(rev);
        lockpb::CompactionResponse resp;
        return lockpb::KV::NewStub(Borrow(ch))->Compact(ctx, req, &resp);
      });
  ASSERT_TRUE(compact.ok()) << compact.error_message();
  // Small entries push the Raft log past its snapshot, so the log and the
  // stored snapshot let go of the big values too.
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(Delete(rc, "/nothing").ok());
  ASSERT_TRUE(WaitFor([&] {
    for (uint64_t id = 1; id <= 3; ++id) {
      std::optional<lockpb::StatusResponse> s = StatusOf(c, id);
      if (!s || s->db_size_in_use_bytes() >= kQuota / 2) return false;
    }
    return true;
  })) << "in-use size did not fall";

  // What `berth cluster defrag` does: each replica in turn, leader last.
  const uint64_t leader = c.AwaitLeader();
  for (uint64_t id = 1; id <= 3; ++id) {
    if (id != leader) EXPECT_TRUE(Defragment(c, id)) << "replica " << id;
  }
  EXPECT_TRUE(Defragment(c, leader)) << "leader " << leader;
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(WaitFor([&] {
      std::optional<lockpb::StatusResponse> s = StatusOf(c, id);
      return s && s->alarms_size() == 0 && s->db_size_bytes() < kQuota;
    })) << "replica "
        << id;
  }
  grpc::Status again = Put(rc, "/after", "fits");
  EXPECT_TRUE(again.ok()) << again.error_message();
}

}  // namespace
}  // namespace berth::e2e
