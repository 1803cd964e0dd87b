#include "lockservice/server/state_machine.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"

namespace berth::lock::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(SmTest, EveryWriteBumpsOneGlobalRevisionAndKeyVersions) {
  EXPECT_EQ(Ok(PutCmd("a", "1")).result.revision(), 1);
  ApplyResult second = Ok(PutCmd("a", "2"));
  EXPECT_EQ(second.result.revision(), 2);
  EXPECT_EQ(second.result.put().prev_kv().value(), "1");
  Ok(PutCmd("b", "x"));

  std::optional<lockpb::KeyValue> a = Get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->create_revision(), 1);
  EXPECT_EQ(a->mod_revision(), 2);
  EXPECT_EQ(a->version(), 2);

  EXPECT_EQ(Ok(DeleteCmd("a")).result.delete_range().deleted(), 1);
  EXPECT_EQ(sm_->revision(), 4);
  // Deleting nothing changes nothing, so it takes no revision.
  EXPECT_EQ(Ok(DeleteCmd("zzz")).result.delete_range().deleted(), 0);
  EXPECT_EQ(sm_->revision(), 4);

  Ok(PutCmd("a", "again"));
  a = Get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->create_revision(), 5);
  EXPECT_EQ(a->version(), 1);
}

TEST_F(SmTest, RangeHonoursPrefixLimitAndCount) {
  for (const char* k : {"p/1", "p/2", "p/3", "q/1"}) Ok(PutCmd(k, k));
  lockpb::RangeRequest req;
  req.set_key("p/");
  req.set_range_end("p0");  // prefix "p/"
  req.set_limit(2);
  absl::StatusOr<lockpb::RangeResponse> r = sm_->Range(req);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->kvs_size(), 2);
  EXPECT_EQ(r->kvs(0).key(), "p/1");
  EXPECT_EQ(r->kvs(1).key(), "p/2");
  EXPECT_TRUE(r->more());
  EXPECT_EQ(r->count(), 3);

  req.set_key(std::string("\0", 1));
  req.set_range_end(std::string("\0", 1));
  req.set_limit(0);
  r = sm_->Range(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->count(), 4);
  EXPECT_FALSE(r->more());
}

lockpb::Compare Cmp(std::string key, lockpb::Compare::CompareTarget target,
                    lockpb::Compare::CompareResult result, int64_t n,
                    std::string value = "") {
  lockpb::Compare c;
  c.set_key(std::move(key));
  c.set_target(target);
  c.set_result(result);
  switch (target) {
    case lockpb::Compare::VERSION:
      c.set_version(n);
      break;
    case lockpb::Compare::CREATE:
      c.set_create_revision(n);
      break;
    case lockpb::Compare::MOD:
      c.set_mod_revision(n);
      break;
    case lockpb::Compare::LEASE:
      c.set_lease(n);
      break;
    default:
      c.set_value(std::move(value));
  }
  return c;
}

lockpb::Command TxnCmd(std::vector<lockpb::Compare> cmps,
                       std::vector<std::pair<std::string, std::string>> puts,
                       std::string failure_put_key = "failed") {
  lockpb::Command c;
  lockpb::TxnRequest* t = c.mutable_txn();
  for (auto& cmp : cmps) *t->add_compare() = cmp;
  for (auto& [k, v] : puts) {
    lockpb::PutRequest* p = t->add_success()->mutable_request_put();
    p->set_key(k);
    p->set_value(v);
  }
  t->add_failure()->mutable_request_put()->set_key(failure_put_key);
  return c;
}

TEST_F(SmTest, TxnComparesChooseTheBranch) {
  Ok(PutCmd("k", "v1"));  // rev 1
  Ok(PutCmd("k", "v2"));  // rev 2: create 1, mod 2, version 2
  using C = lockpb::Compare;
  struct Case {
    C cmp;
    bool want;
  };
  std::vector<Case> cases = {
      {Cmp("k", C::VALUE, C::EQUAL, 0, "v2"), true},
      {Cmp("k", C::VALUE, C::EQUAL, 0, "v1"), false},
      {Cmp("k", C::VALUE, C::NOT_EQUAL, 0, "v1"), true},
      {Cmp("k", C::VALUE, C::GREATER, 0, "v1"), true},
      {Cmp("k", C::VERSION, C::EQUAL, 2), true},
      {Cmp("k", C::VERSION, C::LESS, 2), false},
      {Cmp("k", C::CREATE, C::EQUAL, 1), true},
      {Cmp("k", C::MOD, C::GREATER, 1), true},
      {Cmp("k", C::MOD, C::LESS, 2), false},
      {Cmp("k", C::LEASE, C::EQUAL, 0), true},
      // A missing key has create revision 0: the create-if-absent idiom.
      {Cmp("missing", C::CREATE, C::EQUAL, 0), true},
      {Cmp("missing", C::VERSION, C::GREATER, 0), false},
  };
  for (const Case& tc : cases) {
    ApplyResult r = Ok(TxnCmd({tc.cmp}, {{"out", "x"}}));
    EXPECT_EQ(r.result.txn().succeeded(), tc.want) << tc.cmp.DebugString();
  }
}

TEST_F(SmTest, TxnWithManyWritesBumpsRevisionOnce) {
  Ok(PutCmd("seed", "0"));
  ApplyResult r = Ok(TxnCmd({}, {{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  EXPECT_TRUE(r.result.txn().succeeded());
  EXPECT_EQ(r.result.revision(), 2);
  EXPECT_EQ(r.events.size(), 3u);
  for (const char* k : {"a", "b", "c"}) EXPECT_EQ(Get(k)->mod_revision(), 2);
}

TEST_F(SmTest, RejectedTxnLeavesNoPartialWrites) {
  lockpb::Command c = TxnCmd({}, {{"x", "1"}});
  lockpb::PutRequest* bad =
      c.mutable_txn()->add_success()->mutable_request_put();
  bad->set_key("y");
  bad->set_lease(999);  // unknown
  ApplyResult r = Do(c);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status.message(), HasSubstr("lease 999 not found"));
  EXPECT_FALSE(Get("x").has_value());
  EXPECT_EQ(sm_->revision(), 0);
  EXPECT_TRUE(r.events.empty());
  // A rejected command still consumes its log index.
  EXPECT_EQ(sm_->applied_index(), 1u);
}

TEST_F(SmTest, LeaseExpiryDeletesEphemeralKeysOnlyAfterDeadline) {
  int64_t lease = NewLease(10'000);
  Ok(PutCmd("node/a", "up", lease));
  Ok(PutCmd("plain", "stays"));

  now_ms += 6'000;
  EXPECT_EQ(Ok(KeepAliveCmd(lease)).result.lease().deadline_ms(),
            now_ms + 10'000);
  now_ms += 6'000;  // past the original deadline, before the renewed one
  EXPECT_TRUE(sm_->LeasesToExpire(now_ms, 0, 0)->empty());
  // The leader raced a keepalive: the expire is a no-op.
  ApplyResult early = Ok(ExpireCmd(lease));
  EXPECT_FALSE(early.result.lease().expired());
  EXPECT_TRUE(Get("node/a").has_value());

  now_ms += 4'000;
  EXPECT_THAT(*sm_->LeasesToExpire(now_ms, 0, 0),
              ::testing::ElementsAre(lease));
  ApplyResult gone = Ok(ExpireCmd(lease));
  EXPECT_TRUE(gone.result.lease().expired());
  EXPECT_FALSE(Get("node/a").has_value());
  EXPECT_TRUE(Get("plain").has_value());
  ASSERT_EQ(gone.events.size(), 1u);
  EXPECT_EQ(gone.events[0].type(), lockpb::Event::DELETE);
  EXPECT_EQ(sm_->TimeToLive(lease, false)->ttl(), -1);
}

TEST_F(SmTest, RevokeDeletesKeysAndTimeToLiveListsThem) {
  int64_t lease = NewLease(10'000);
  Ok(PutCmd("e/1", "", lease));
  Ok(PutCmd("e/2", "", lease));
  now_ms += 2'500;
  Ok(TickCmd());
  absl::StatusOr<lockpb::LeaseTimeToLiveResponse> ttl =
      sm_->TimeToLive(lease, true);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->ttl(), 8);  // 7.5 s left, rounded up
  EXPECT_EQ(ttl->granted_ttl(), 10);
  EXPECT_THAT(ttl->keys(), ::testing::ElementsAre("e/1", "e/2"));

  ApplyResult r = Ok(RevokeCmd(lease));
  EXPECT_EQ(r.events.size(), 2u);
  EXPECT_FALSE(Get("e/1").has_value());
  EXPECT_EQ(Do(RevokeCmd(lease)).status.code(), absl::StatusCode::kNotFound);
}

TEST(LeaseRule, NewLeaderTreatsEveryLeaseAsRefreshedWhenItTookOffice) {
  LeaseRecord l{1, 10'000, 0, 50'000};
  // Elected long before the stored deadline: that deadline stands.
  EXPECT_EQ(EffectiveDeadline(l, 30'000, 1'000), 50'000);
  // Elected near or after it: TTL plus the grace from the election, as
  // etcd's lessor extends leases on promotion.
  EXPECT_EQ(EffectiveDeadline(l, 45'000, 0), 55'000);
  EXPECT_EQ(EffectiveDeadline(l, 49'000, 1'000), 60'000);
  EXPECT_EQ(EffectiveDeadline(l, 70'000, 1'000), 81'000);
}

// Granted at g with TTL 10 s, the stored deadline is g + 10 s. The old
// leader may have acknowledged a keepalive (in memory, not checkpointed)
// just before a new leader took office at g + 9 s, so the client may hold
// the lease until g + 19 s: the new leader must not expire it before then,
// and does once TTL + grace has passed since its election.
TEST_F(SmTest, NewLeaderExpiresNoLeaseSoonerThanTtlAfterElection) {
  const int64_t granted_at = now_ms;
  int64_t lease = NewLease(10'000);  // stored deadline granted_at + 10 s
  const int64_t elected = granted_at + 9'000;
  const int64_t grace = 1'000;
  for (int64_t t = granted_at + 10'000; t < elected + 10'000 + grace;
       t += 500) {
    EXPECT_TRUE(sm_->LeasesToExpire(t, elected, grace)->empty()) << t;
  }
  EXPECT_THAT(*sm_->LeasesToExpire(elected + 10'000 + grace, elected, grace),
              ::testing::ElementsAre(lease));
  // The same leader's own view (elected long ago) follows the stored
  // deadline.
  EXPECT_THAT(*sm_->LeasesToExpire(granted_at + 10'000, 0, grace),
              ::testing::ElementsAre(lease));
}

lockpb::Command CheckpointCmd(
    const std::vector<std::pair<int64_t, int64_t>>& remaining_ms) {
  lockpb::Command c;
  for (auto [id, ms] : remaining_ms) {
    lockpb::LeaseCheckpointCmd::Entry* e =
        c.mutable_lease_checkpoint()->add_leases();
    e->set_id(id);
    e->set_remaining_ms(ms);
  }
  return c;
}

int64_t StoredDeadline(StateMachine* sm, int64_t id) {
  absl::StatusOr<std::optional<LeaseRecord>> l = sm->Lease(id);
  EXPECT_TRUE(l.ok()) << l.status();
  return l.ok() && l->has_value() ? (*l)->deadline_ms : -1;
}

TEST_F(SmTest, LeaseCheckpointSetsDeadlineFromItsLeaderTime) {
  int64_t a = NewLease(10'000);
  int64_t b = NewLease(10'000);
  int64_t c = NewLease(10'000);
  int64_t rev = sm_->revision();
  now_ms += 4'000;
  // a: renewed on the leader 1 s ago. b: claims more than its TTL (capped).
  // c: the leader's remaining TTL is shorter than the log's (a leader whose
  // clock is behind): the log's later deadline stays. 999: gone, skipped.
  ApplyResult r =
      Ok(CheckpointCmd({{a, 9'000}, {999, 5'000}, {b, 30'000}, {c, 1'000}}));
  EXPECT_EQ(StoredDeadline(sm_.get(), a), now_ms + 9'000);
  EXPECT_EQ(StoredDeadline(sm_.get(), b), now_ms + 10'000);
  EXPECT_EQ(StoredDeadline(sm_.get(), c), kStart + 10'000);
  EXPECT_EQ(StoredDeadline(sm_.get(), 999), -1);
  // Deadlines are not keys: no revision, no watch event.
  EXPECT_EQ(sm_->revision(), rev);
  EXPECT_TRUE(r.events.empty());

  // Expiry follows the checkpointed deadline, not the granted one.
  now_ms = kStart + 10'000;
  EXPECT_THAT(*sm_->LeasesToExpire(now_ms, 0, 0), ::testing::ElementsAre(c));
  EXPECT_FALSE(Ok(ExpireCmd(a)).result.lease().expired());
  EXPECT_TRUE(Ok(ExpireCmd(c)).result.lease().expired());
  // A checkpoint naming an expired lease does not bring it back.
  Ok(CheckpointCmd({{c, 9'000}}));
  EXPECT_EQ(StoredDeadline(sm_.get(), c), -1);
}

TEST_F(SmTest, LeaseCheckpointIsDeterministicAndIdempotent) {
  std::unique_ptr<StateMachine> other = OpenAt("other.db");
  int64_t start = now_ms;
  auto run = [&](StateMachine* sm) {
    now_ms = start;
    int64_t a = Do(GrantCmd(6'000), sm).result.lease().id();
    int64_t b = Do(GrantCmd(9'000), sm).result.lease().id();
    now_ms += 2'000;
    lockpb::Command cp = CheckpointCmd({{a, 5'500}, {b, 8'000}});
    Do(cp, sm);
    absl::StatusOr<std::string> once = sm->Dump();
    EXPECT_TRUE(once.ok());
    absl::StatusOr<std::vector<LeaseRecord>> before = sm->Leases();
    // The same checkpoint proposed twice (a retried proposal whose first
    // copy also committed) changes no lease.
    Do(cp, sm);
    absl::StatusOr<std::vector<LeaseRecord>> after = sm->Leases();
    EXPECT_EQ(before->size(), after->size());
    for (size_t i = 0; i < before->size() && i < after->size(); ++i) {
      EXPECT_EQ((*before)[i].deadline_ms, (*after)[i].deadline_ms);
    }
    // Replaying an index that was applied is a no-op.
    cp.set_leader_time_unix_ms(now_ms + 5'000);
    EXPECT_TRUE(sm->Apply(sm->applied_index(), cp)->duplicate);
    return *sm->Dump();
  };
  std::string a = run(sm_.get());
  std::string b = run(other.get());
  EXPECT_EQ(a, b);
  EXPECT_EQ(StoredDeadline(sm_.get(), 1), start + 2'000 + 5'500);
  EXPECT_EQ(StoredDeadline(other.get(), 2), start + 2'000 + 8'000);
}

TEST_F(SmTest, LeaseCheckpointRejectsNegativeRemainingAsAWhole) {
  int64_t a = NewLease(10'000);
  now_ms += 1'000;
  ApplyResult r = Do(CheckpointCmd({{a, 9'000}, {a, -1}}));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status.message(), HasSubstr("remaining_ms of lease"));
  EXPECT_EQ(StoredDeadline(sm_.get(), a), kStart + 10'000);
}

TEST_F(SmTest, WatchHistoryResumesAndReportsCompaction) {
  Ok(PutCmd("w/a", "1"));                        // rev 1
  Ok(PutCmd("other", "x"));                      // rev 2
  Ok(TxnCmd({}, {{"w/b", "2"}, {"w/c", "3"}}));  // rev 3, 2 events
  Ok(DeleteCmd("w/a"));                          // rev 4

  absl::StatusOr<std::vector<lockpb::Event>> ev =
      sm_->EventsSince(1, "w/", "w0", 0);
  ASSERT_TRUE(ev.ok()) << ev.status();
  ASSERT_EQ(ev->size(), 4u);
  EXPECT_EQ((*ev)[3].type(), lockpb::Event::DELETE);
  EXPECT_EQ((*ev)[3].prev_kv().value(), "1");

  // A limit never splits a revision: 2 asked, both events of rev 3 come.
  ev = sm_->EventsSince(2, "w/", "w0", 1);
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_EQ((*ev)[0].kv().mod_revision(), 3);
  EXPECT_EQ((*ev)[1].kv().mod_revision(), 3);

  Ok(CompactCmd(3));
  ev = sm_->EventsSince(2, "w/", "w0", 0);
  EXPECT_TRUE(IsHistoryCompacted(ev.status())) << ev.status();
  EXPECT_THAT(ev.status().message(), HasSubstr("starts at revision 3"));
  EXPECT_EQ(*sm_->compact_revision(), 3);
  ev = sm_->EventsSince(3, "w/", "w0", 0);
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->size(), 3u);

  EXPECT_EQ(Do(CompactCmd(2)).status.code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Do(CompactCmd(99)).status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SmTest, BadInputsAreRejectedWithNamedReasons) {
  Limits small;
  small.max_key_bytes = 24;
  small.max_value_bytes = 16;
  small.max_txn_ops = 2;
  sm_ = OpenAt("limits.db", small);

  struct Case {
    lockpb::Command cmd;
    absl::StatusCode code;
    std::string words;
  };
  lockpb::Command no_op;
  lockpb::Command big_txn = TxnCmd({}, {{"a", ""}, {"b", ""}, {"c", ""}});
  lockpb::Command bad_range = DeleteCmd("b", "a");
  std::vector<Case> cases = {
      {PutCmd("", "v"), absl::StatusCode::kInvalidArgument, "key is empty"},
      {PutCmd(std::string(25, 'k'), "v"), absl::StatusCode::kInvalidArgument,
       "key is 25 bytes; the limit is 24"},
      {AcquireCmd(std::string(8, 'n'), 1), absl::StatusCode::kInvalidArgument,
       "lock name is 8 bytes; the limit is 7"},
      {PutCmd("k", std::string(17, 'v')), absl::StatusCode::kInvalidArgument,
       "value is 17 bytes; the limit is 16"},
      {PutCmd("k", "v", 42), absl::StatusCode::kNotFound, "lease 42 not found"},
      {big_txn, absl::StatusCode::kInvalidArgument,
       "3 success ops; the limit is 2"},
      {bad_range, absl::StatusCode::kInvalidArgument, "malformed range"},
      {GrantCmd(5), absl::StatusCode::kInvalidArgument, "lease ttl_ms"},
      {AcquireCmd("l", 77), absl::StatusCode::kNotFound, "lease 77 not found"},
      {AcquireCmd("l", 0), absl::StatusCode::kInvalidArgument, "needs a lease"},
      {no_op, absl::StatusCode::kInvalidArgument, "no operation"},
  };
  for (const Case& tc : cases) {
    uint64_t before = sm_->applied_index();
    ApplyResult r = Do(tc.cmd);
    EXPECT_EQ(r.status.code(), tc.code) << tc.cmd.DebugString() << r.status;
    EXPECT_THAT(r.status.message(), HasSubstr(tc.words));
    EXPECT_EQ(sm_->applied_index(), before + 1);
  }
  EXPECT_EQ(sm_->revision(), 0);

  absl::StatusOr<ApplyResult> garbage =
      sm_->ApplyEntryData(sm_->applied_index() + 1, "\xff\xff\xff");
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_THAT(garbage->status.message(), HasSubstr("decodable"));

  lockpb::RangeRequest old;
  old.set_key("k");
  old.set_revision(7);
  EXPECT_THAT(sm_->Range(old).status().message(), HasSubstr("future"));
}

TEST_F(SmTest, ReplayingAnIndexHasNoSecondEffect) {
  lockpb::Command put = PutCmd("k", "v");
  put.set_leader_time_unix_ms(now_ms);
  ASSERT_TRUE(sm_->Apply(1, put).ok());
  ASSERT_TRUE(sm_->ApplyEmpty(2).ok());
  absl::StatusOr<std::string> before = sm_->Dump();
  ASSERT_TRUE(before.ok());

  absl::StatusOr<ApplyResult> again = sm_->Apply(1, put);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(Get("k")->version(), 1);
  EXPECT_EQ(*sm_->Dump(), *before);

  // After a restart the applied index comes back from the same file, so a
  // driver replaying the log from an older point skips what was applied.
  sm_.reset();
  sm_ = OpenAt("replica.db");
  EXPECT_EQ(sm_->applied_index(), 2u);
  EXPECT_TRUE(sm_->Apply(1, put)->duplicate);
  EXPECT_EQ(*sm_->Dump(), *before);

  absl::StatusOr<ApplyResult> gap = sm_->Apply(5, put);
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(gap.status().message(), HasSubstr("out of order"));
}

// Applies a seeded random workload to `sm`, returning a transcript of every
// result so two runs can be compared.
std::string RunWorkload(int64_t& now_ms, StateMachine* sm, uint32_t seed,
                        int steps) {
  std::mt19937 rng(seed);
  std::string transcript;
  std::vector<int64_t> leases;
  std::vector<int64_t> tokens;
  for (int i = 0; i < steps; ++i) {
    now_ms += rng() % 3000;
    lockpb::Command c;
    int64_t lease = leases.empty() ? 0 : leases[rng() % leases.size()];
    std::string key = "k" + std::to_string(rng() % 8);
    switch (rng() % 9) {
      case 0:
        c = GrantCmd(2000 + rng() % 8000);
        break;
      case 1:
        c = PutCmd(key, std::to_string(i), rng() % 2 ? lease : 0);
        break;
      case 2:
        c = DeleteCmd(key);
        break;
      case 3:
        c = AcquireCmd("lock" + std::to_string(rng() % 2), lease, "v", false, 0,
                       1000);
        break;
      case 4:
        c = ReleaseCmd("lock" + std::to_string(rng() % 2),
                       tokens.empty() ? 0 : tokens[rng() % tokens.size()]);
        break;
      case 5:
        c = ExpireCmd(lease);
        break;
      case 6:
        c = KeepAliveCmd(lease);
        break;
      case 7:
        c = TickCmd();
        break;
      default:
        c = CompactCmd(sm->revision() / 2);
    }
    c.set_leader_time_unix_ms(now_ms);
    absl::StatusOr<ApplyResult> r = sm->Apply(sm->applied_index() + 1, c);
    if (!r.ok()) return "storage failure: " + r.status().ToString();
    if (r->result.has_lease() && c.has_lease_grant()) {
      leases.push_back(r->result.lease().id());
    }
    if (r->result.has_lock() && r->result.lock().granted()) {
      tokens.push_back(r->result.lock().token());
    }
    for (const LockGrant& g : r->locks.grants) tokens.push_back(g.token);
    transcript += r->status.ToString() + "|" + r->result.SerializeAsString();
    for (const lockpb::Event& e : r->events)
      transcript += e.SerializeAsString();
    transcript += "\n";
  }
  return transcript;
}

TEST_F(SmTest, SameCommandsGiveIdenticalStateOnTwoReplicas) {
  std::unique_ptr<StateMachine> other = OpenAt("other.db");
  int64_t start = now_ms;
  std::string a = RunWorkload(now_ms, sm_.get(), 7, 400);
  now_ms = start;
  std::string b = RunWorkload(now_ms, other.get(), 7, 400);
  EXPECT_EQ(a, b);
  EXPECT_GT(sm_->revision(), 0);
  EXPECT_EQ(*sm_->Dump(), *other->Dump());
  absl::StatusOr<std::string> snap_a = sm_->Snapshot();
  absl::StatusOr<std::string> snap_b = other->Snapshot();
  ASSERT_TRUE(snap_a.ok()) << snap_a.status();
  ASSERT_TRUE(snap_b.ok()) << snap_b.status();
  EXPECT_EQ(*snap_a, *snap_b);
}

TEST_F(SmTest, SnapshotRestoresAnIdenticalReplica) {
  RunWorkload(now_ms, sm_.get(), 11, 200);
  absl::StatusOr<std::string> image = sm_->Snapshot();
  ASSERT_TRUE(image.ok()) << image.status();

  std::unique_ptr<StateMachine> fresh = OpenAt("fresh.db");
  ASSERT_TRUE(fresh->Restore(*image).ok());
  EXPECT_EQ(fresh->applied_index(), sm_->applied_index());
  EXPECT_EQ(fresh->revision(), sm_->revision());
  EXPECT_EQ(*fresh->Dump(), *sm_->Dump());

  // Both continue identically from the restored point.
  int64_t t = now_ms;
  std::string a = RunWorkload(now_ms, sm_.get(), 12, 50);
  now_ms = t;
  std::string b = RunWorkload(now_ms, fresh.get(), 12, 50);
  EXPECT_EQ(a, b);
  EXPECT_EQ(*fresh->Dump(), *sm_->Dump());

  absl::Status bad = fresh->Restore("not a database at all");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument) << bad;
  EXPECT_EQ(*fresh->Dump(), *sm_->Dump());  // untouched
}

}  // namespace
}  // namespace berth::lock::testing
