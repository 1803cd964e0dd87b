// etcd <-> berth KV translation (kv_convert.h).
#include "lockservice/lockd/etcd/kv_convert.h"

#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::lockd::etcd {
namespace {

using etcdserverpb::RangeRequest;
using ::testing::HasSubstr;

lockpb::RangeResponse ThreeKeys() {
  lockpb::RangeResponse r;
  r.mutable_header()->set_revision(9);
  r.mutable_header()->set_leader_id(2);
  // key, create revision, mod revision
  const std::vector<std::tuple<std::string, int, int>> rows = {
      {"l/a", 5, 8}, {"l/b", 3, 3}, {"l/c", 7, 7}};
  for (const auto& [k, c, m] : rows) {
    lockpb::KeyValue* kv = r.add_kvs();
    kv->set_key(k);
    kv->set_create_revision(c);
    kv->set_mod_revision(m);
    kv->set_value("v-" + k);
  }
  r.set_count(3);
  return r;
}

std::string Keys(const etcdserverpb::RangeResponse& r) {
  std::string s;
  for (const auto& kv : r.kvs()) s += kv.key() + " ";
  return s;
}

TEST(KvConvertTest, PlainRangeKeepsBerthsOrderLimitAndFields) {
  RangeRequest req;
  req.set_key("l/");
  req.set_range_end("l0");
  req.set_limit(2);
  req.set_revision(4);
  req.set_serializable(true);
  req.set_keys_only(true);
  lockpb::RangeRequest b = ToBerth(req);
  EXPECT_EQ(b.key(), "l/");
  EXPECT_EQ(b.range_end(), "l0");
  EXPECT_EQ(b.limit(), 2);
  EXPECT_EQ(b.revision(), 4);
  EXPECT_TRUE(b.serializable());
  EXPECT_TRUE(b.keys_only());

  etcdserverpb::RangeResponse out;
  ShapeRange(req, ThreeKeys(), &out);
  EXPECT_EQ(Keys(out), "l/a l/b l/c ");
  EXPECT_EQ(out.header().revision(), 9);
  EXPECT_EQ(out.count(), 3);
  EXPECT_EQ(out.kvs(0).create_revision(), 5);
  EXPECT_EQ(out.kvs(0).value(), "v-l/a");
}

// etcd's lock recipe asks for the newest waiter created before its own key:
// WithLastCreate (sort CREATE DESCEND, limit 1) + WithMaxCreateRev.
TEST(KvConvertTest, SortFilterAndLimitAreAppliedAfterBerthAnswers) {
  RangeRequest req;
  req.set_key("l/");
  req.set_range_end("l0");
  req.set_sort_target(RangeRequest::CREATE);
  req.set_sort_order(RangeRequest::DESCEND);
  req.set_limit(1);
  req.set_max_create_revision(6);
  EXPECT_EQ(ToBerth(req).limit(), 0) << "berth must return the whole range";

  etcdserverpb::RangeResponse out;
  ShapeRange(req, ThreeKeys(), &out);
  EXPECT_EQ(Keys(out), "l/a ");
  EXPECT_TRUE(out.more());

  req.clear_max_create_revision();
  req.set_sort_order(RangeRequest::NONE);  // a target alone means ascending
  req.set_sort_target(RangeRequest::MOD);
  req.set_limit(0);
  out.Clear();
  ShapeRange(req, ThreeKeys(), &out);
  EXPECT_EQ(Keys(out), "l/b l/c l/a ");
  EXPECT_FALSE(out.more());
}

TEST(KvConvertTest, TxnMapsComparesAndShapesInnerRanges) {
  etcdserverpb::TxnRequest req;
  etcdserverpb::Compare* c = req.add_compare();
  c->set_key("k");
  c->set_target(etcdserverpb::Compare::CREATE);
  c->set_result(etcdserverpb::Compare::LESS);
  c->set_create_revision(7);
  RangeRequest* inner = req.add_success()->mutable_request_range();
  inner->set_key("l/");
  inner->set_range_end("l0");
  inner->set_sort_target(RangeRequest::CREATE);
  req.add_failure()->mutable_request_put()->set_key("k");

  absl::StatusOr<lockpb::TxnRequest> b = ToBerth(req);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->compare(0).target(), lockpb::Compare::CREATE);
  EXPECT_EQ(b->compare(0).result(), lockpb::Compare::LESS);
  EXPECT_EQ(b->compare(0).create_revision(), 7);
  EXPECT_TRUE(b->success(0).has_request_range());
  EXPECT_EQ(b->failure(0).request_put().key(), "k");

  lockpb::TxnResponse resp;
  resp.set_succeeded(true);
  resp.mutable_header()->set_revision(9);
  *resp.add_responses()->mutable_response_range() = ThreeKeys();
  etcdserverpb::TxnResponse out;
  ToEtcd(req, resp, &out);
  EXPECT_TRUE(out.succeeded());
  EXPECT_EQ(out.header().revision(), 9);
  EXPECT_EQ(Keys(out.responses(0).response_range()), "l/b l/a l/c ");
}

TEST(KvConvertTest, WhatBerthCannotExpressIsUnimplemented) {
  etcdserverpb::TxnRequest nested;
  nested.add_success()->mutable_request_txn();
  absl::StatusOr<lockpb::TxnRequest> t = ToBerth(nested);
  EXPECT_TRUE(absl::IsUnimplemented(t.status()));
  EXPECT_THAT(t.status().message(), HasSubstr("nested"));

  etcdserverpb::TxnRequest ranged;
  ranged.add_compare()->set_range_end("z");
  EXPECT_TRUE(absl::IsUnimplemented(ToBerth(ranged).status()));

  etcdserverpb::PutRequest put;
  put.set_ignore_value(true);
  EXPECT_TRUE(absl::IsUnimplemented(ToBerth(put).status()));
}

}  // namespace
}  // namespace berth::lockd::etcd
