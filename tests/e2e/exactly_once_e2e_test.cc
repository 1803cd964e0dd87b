// Exactly-once writes against a real 3-replica berth-lockd (issue #13 item
// 4): non-idempotent increments from several client threads while the
// leader is killed with SIGKILL, and raw repeats of acknowledged WriteIds
// sent to the next leader.
//
// An increment is a compare-free Txn that puts one counter key: every apply
// bumps the key's version by one, so version counts applied increments and
// any double apply shows up as version > acknowledged + unknown-outcome.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

constexpr char kCounter[] = "/e2e/exactly-once/counter";

std::unique_ptr<lockpb::KV::Stub> KvStub(grpc::Channel* ch) {
  return lockpb::KV::NewStub(std::shared_ptr<grpc::Channel>(ch, [](auto*) {}));
}

lockpb::TxnRequest Increment(uint64_t client, uint64_t seq) {
  lockpb::TxnRequest req;
  lockpb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(kCounter);
  put->set_value(absl::StrCat("raw ", seq));
  lockpb::WriteId* id = req.mutable_write_id();
  id->set_client_id(client);
  id->set_seq(seq);
  id->set_acked_below(1);  // keep every answer, so all can be repeated
  return req;
}

// Sends `req` to the leader until one attempt is answered (the same WriteId
// every time, as the client library does).
absl::StatusOr<lockpb::TxnResponse> SendTxn(RawClient& rc,
                                            const lockpb::TxnRequest& req) {
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  grpc::Status st;
  while (absl::Now() < deadline) {
    lockpb::TxnResponse resp;
    st = rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
      return KvStub(ch)->Txn(ctx, req, &resp);
    });
    if (st.ok()) return resp;
    if (st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED &&
        st.error_code() != grpc::StatusCode::UNAVAILABLE) {
      break;
    }
  }
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                      st.error_message());
}

struct Tally {
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> unknown{0};
  std::atomic<int64_t> failed{0};
  std::atomic<bool> stop{false};
};

void IncrementLoop(lock::Client* client, Tally* t) {
  while (!t->stop.load()) {
    absl::StatusOr<lock::TxnResult> r =
        client->kv().Txn().Then(lock::TxnOp::Put(kCounter, "library")).Commit();
    if (r.ok()) {
      ++t->acked;
    } else if (lock::IsOutcomeUnknown(r.status())) {
      ++t->unknown;
    } else {
      ++t->failed;
    }
  }
}

TEST(ExactlyOnceE2E, IncrementsSurviveLeaderKillWithoutDoubleApply) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  const uint64_t first_leader = c.AwaitLeader();
  ASSERT_NE(first_leader, 0u);
  RawClient rc(&c);

  // Raw writes from client 0xE2E: each acknowledged answer is remembered so
  // it can be repeated after the failover.
  constexpr uint64_t kRawClient = 0xE2E;
  constexpr uint64_t kRawWrites = 20;
  std::vector<lockpb::TxnResponse> raw_answers;
  for (uint64_t seq = 1; seq <= kRawWrites; ++seq) {
    absl::StatusOr<lockpb::TxnResponse> r =
        SendTxn(rc, Increment(kRawClient, seq));
    ASSERT_TRUE(r.ok()) << r.status();
    raw_answers.push_back(*r);
  }

  // Two library clients, three threads each: one client id per Client, so
  // each client pipelines three writes at a time.
  lock::ClientOptions opts;
  opts.dial_timeout = absl::Milliseconds(200);
  opts.request_timeout = absl::Seconds(60);
  std::vector<std::unique_ptr<lock::Client>> clients;
  for (int i = 0; i < 2; ++i) {
    auto cl = lock::Client::Connect(c.Endpoints(), opts);
    ASSERT_TRUE(cl.ok()) << cl.status();
    clients.push_back(*std::move(cl));
  }
  Tally t;
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back(IncrementLoop, clients[i % 2].get(), &t);
  }
  auto stop_all = [&] {
    t.stop = true;
    for (std::thread& th : threads) th.join();
    threads.clear();
  };

  bool warmed = WaitFor([&] { return t.acked.load() >= 100; });
  if (!warmed) stop_all();
  ASSERT_TRUE(warmed) << "acked " << t.acked.load();
  const uint64_t leader = c.Leader();
  ASSERT_NE(leader, 0u);
  const int64_t acked_at_kill = t.acked.load();
  c.Kill9(leader);
  bool moved_on = WaitFor([&] { return t.acked.load() >= acked_at_kill + 200; },
                          absl::Seconds(90));
  const uint64_t next = c.AwaitLeader(absl::Seconds(30), leader);
  stop_all();
  ASSERT_TRUE(moved_on) << "acked " << t.acked.load() << " (" << acked_at_kill
                        << " at the kill)";
  ASSERT_NE(next, 0u);
  ASSERT_NE(next, leader);
  EXPECT_EQ(t.failed.load(), 0);

  // Repeats of acknowledged raw writes, sent to the new leader: the stored
  // answer (same revision), no new apply.
  auto counter_version = [&]() -> int64_t {
    auto client = lock::Client::Connect(c.Endpoints(), opts);
    if (!client.ok()) return -1;
    auto kv = (*client)->kv().Get(kCounter);
    if (!kv.ok() || !kv->has_value()) return -1;
    return (*kv)->version;
  };
  const int64_t before_repeats = counter_version();
  for (uint64_t seq = 1; seq <= kRawWrites; ++seq) {
    absl::StatusOr<lockpb::TxnResponse> r =
        SendTxn(rc, Increment(kRawClient, seq));
    ASSERT_TRUE(r.ok()) << "seq " << seq << ": " << r.status();
    EXPECT_EQ(r->header().revision(), raw_answers[seq - 1].header().revision())
        << "seq " << seq;
    EXPECT_TRUE(r->succeeded());
  }
  // One new raw write sent twice counts once.
  ASSERT_TRUE(SendTxn(rc, Increment(kRawClient, kRawWrites + 1)).ok());
  ASSERT_TRUE(SendTxn(rc, Increment(kRawClient, kRawWrites + 1)).ok());
  const int64_t final_version = counter_version();
  EXPECT_EQ(final_version, before_repeats + 1);

  // Every increment is a Put of the counter: version == applied increments.
  const int64_t acked = t.acked.load() + kRawWrites + 1;
  const int64_t unknown = t.unknown.load();
  EXPECT_GE(final_version, acked);
  EXPECT_LE(final_version, acked + unknown)
      << "an increment was applied twice: version " << final_version
      << ", acknowledged " << acked << ", unknown outcome " << unknown;
  RecordProperty("acknowledged", static_cast<int>(acked));
  RecordProperty("unknown_outcome", static_cast<int>(unknown));
  RecordProperty("counter_version", static_cast<int>(final_version));
  std::printf("acknowledged %lld, unknown outcome %lld, counter version %lld\n",
              static_cast<long long>(acked), static_cast<long long>(unknown),
              static_cast<long long>(final_version));
}

}  // namespace
}  // namespace berth::e2e
