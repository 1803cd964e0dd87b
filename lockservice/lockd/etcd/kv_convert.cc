#include "lockservice/lockd/etcd/kv_convert.h"

#include <algorithm>

namespace berth::lockd::etcd {
namespace {

using etcdserverpb::RangeRequest;

bool HasFilters(const RangeRequest& r) {
  return r.min_mod_revision() || r.max_mod_revision() ||
         r.min_create_revision() || r.max_create_revision();
}

// etcd sorts when asked, and treats a sort target without an order as
// ascending; KEY/NONE is berth's natural (key) order.
bool NeedsSort(const RangeRequest& r) {
  return r.sort_order() != RangeRequest::NONE ||
         r.sort_target() != RangeRequest::KEY;
}

bool NeedsShaping(const RangeRequest& r) {
  return !r.count_only() && (HasFilters(r) || NeedsSort(r));
}

bool Keep(const RangeRequest& r, const lockpb::KeyValue& kv) {
  if (r.min_mod_revision() && kv.mod_revision() < r.min_mod_revision())
    return false;
  if (r.max_mod_revision() && kv.mod_revision() > r.max_mod_revision())
    return false;
  if (r.min_create_revision() && kv.create_revision() < r.min_create_revision())
    return false;
  if (r.max_create_revision() && kv.create_revision() > r.max_create_revision())
    return false;
  return true;
}

// Whether a sorts strictly before b under `r`'s target, ascending.
bool Less(const RangeRequest& r, const lockpb::KeyValue& a,
          const lockpb::KeyValue& b) {
  switch (r.sort_target()) {
    case RangeRequest::VERSION:
      return a.version() < b.version();
    case RangeRequest::CREATE:
      return a.create_revision() < b.create_revision();
    case RangeRequest::MOD:
      return a.mod_revision() < b.mod_revision();
    case RangeRequest::VALUE:
      return a.value() < b.value();
    default:
      return a.key() < b.key();
  }
}

absl::Status ConvertOp(const etcdserverpb::RequestOp& in,
                       lockpb::RequestOp* out) {
  switch (in.request_case()) {
    case etcdserverpb::RequestOp::kRequestRange:
      *out->mutable_request_range() = ToBerth(in.request_range());
      return absl::OkStatus();
    case etcdserverpb::RequestOp::kRequestPut: {
      absl::StatusOr<lockpb::PutRequest> p = ToBerth(in.request_put());
      if (!p.ok()) return p.status();
      *out->mutable_request_put() = std::move(*p);
      return absl::OkStatus();
    }
    case etcdserverpb::RequestOp::kRequestDeleteRange:
      *out->mutable_request_delete_range() = ToBerth(in.request_delete_range());
      return absl::OkStatus();
    case etcdserverpb::RequestOp::kRequestTxn:
      return absl::UnimplementedError(
          "berth-lockd does not support a Txn nested inside a Txn");
    default:
      return absl::InvalidArgumentError("empty RequestOp in Txn");
  }
}

}  // namespace

void ToEtcdHeader(const lockpb::ResponseHeader& in,
                  etcdserverpb::ResponseHeader* out) {
  out->set_cluster_id(in.cluster_id());
  out->set_member_id(in.member_id());
  out->set_revision(in.revision());
  out->set_raft_term(in.raft_term());
}

void ToEtcd(const lockpb::KeyValue& in, mvccpb::KeyValue* out) {
  out->set_key(in.key());
  out->set_create_revision(in.create_revision());
  out->set_mod_revision(in.mod_revision());
  out->set_version(in.version());
  out->set_value(in.value());
  out->set_lease(in.lease());
}

void ToEtcd(const lockpb::Event& in, mvccpb::Event* out) {
  out->set_type(in.type() == lockpb::Event::DELETE ? mvccpb::Event::DELETE
                                                   : mvccpb::Event::PUT);
  ToEtcd(in.kv(), out->mutable_kv());
  if (in.has_prev_kv()) ToEtcd(in.prev_kv(), out->mutable_prev_kv());
}

lockpb::RangeRequest ToBerth(const RangeRequest& in) {
  lockpb::RangeRequest out;
  out.set_key(in.key());
  out.set_range_end(in.range_end());
  out.set_revision(in.revision());
  out.set_serializable(in.serializable());
  out.set_keys_only(in.keys_only());
  out.set_count_only(in.count_only());
  // Sorting and filtering happen here, after berth answers, so berth must
  // return every key in the range.
  if (!NeedsShaping(in)) out.set_limit(in.limit());
  return out;
}

void ShapeRange(const RangeRequest& req, const lockpb::RangeResponse& in,
                etcdserverpb::RangeResponse* out) {
  ToEtcdHeader(in.header(), out->mutable_header());
  out->set_count(in.count());
  out->set_more(in.more());
  if (!NeedsShaping(req)) {
    for (const lockpb::KeyValue& kv : in.kvs()) ToEtcd(kv, out->add_kvs());
    return;
  }
  std::vector<const lockpb::KeyValue*> kept;
  for (const lockpb::KeyValue& kv : in.kvs()) {
    if (Keep(req, kv)) kept.push_back(&kv);
  }
  if (NeedsSort(req)) {
    bool desc = req.sort_order() == RangeRequest::DESCEND;
    std::stable_sort(kept.begin(), kept.end(),
                     [&](const lockpb::KeyValue* a, const lockpb::KeyValue* b) {
                       return desc ? Less(req, *b, *a) : Less(req, *a, *b);
                     });
  }
  if (req.limit() > 0 && static_cast<int64_t>(kept.size()) > req.limit()) {
    kept.resize(req.limit());
    out->set_more(true);
  }
  for (const lockpb::KeyValue* kv : kept) ToEtcd(*kv, out->add_kvs());
}

absl::StatusOr<lockpb::PutRequest> ToBerth(const etcdserverpb::PutRequest& in) {
  if (in.ignore_value() || in.ignore_lease()) {
    return absl::UnimplementedError(
        "berth-lockd does not support Put with ignore_value or ignore_lease");
  }
  lockpb::PutRequest out;
  out.set_key(in.key());
  out.set_value(in.value());
  out.set_lease(in.lease());
  out.set_prev_kv(in.prev_kv());
  return out;
}

void ToEtcd(const lockpb::PutResponse& in, etcdserverpb::PutResponse* out) {
  ToEtcdHeader(in.header(), out->mutable_header());
  if (in.has_prev_kv()) ToEtcd(in.prev_kv(), out->mutable_prev_kv());
}

lockpb::DeleteRangeRequest ToBerth(const etcdserverpb::DeleteRangeRequest& in) {
  lockpb::DeleteRangeRequest out;
  out.set_key(in.key());
  out.set_range_end(in.range_end());
  out.set_prev_kv(in.prev_kv());
  return out;
}

void ToEtcd(const lockpb::DeleteRangeResponse& in,
            etcdserverpb::DeleteRangeResponse* out) {
  ToEtcdHeader(in.header(), out->mutable_header());
  out->set_deleted(in.deleted());
  for (const lockpb::KeyValue& kv : in.prev_kvs())
    ToEtcd(kv, out->add_prev_kvs());
}

absl::StatusOr<lockpb::TxnRequest> ToBerth(const etcdserverpb::TxnRequest& in) {
  lockpb::TxnRequest out;
  for (const etcdserverpb::Compare& c : in.compare()) {
    if (!c.range_end().empty()) {
      return absl::UnimplementedError(
          "berth-lockd does not support a Txn Compare over a key range "
          "(range_end)");
    }
    lockpb::Compare* o = out.add_compare();
    o->set_result(static_cast<lockpb::Compare::CompareResult>(c.result()));
    o->set_target(static_cast<lockpb::Compare::CompareTarget>(c.target()));
    o->set_key(c.key());
    switch (c.target_union_case()) {
      case etcdserverpb::Compare::kVersion:
        o->set_version(c.version());
        break;
      case etcdserverpb::Compare::kCreateRevision:
        o->set_create_revision(c.create_revision());
        break;
      case etcdserverpb::Compare::kModRevision:
        o->set_mod_revision(c.mod_revision());
        break;
      case etcdserverpb::Compare::kValue:
        o->set_value(c.value());
        break;
      case etcdserverpb::Compare::kLease:
        o->set_lease(c.lease());
        break;
      default:
        break;
    }
  }
  for (const etcdserverpb::RequestOp& op : in.success()) {
    if (absl::Status s = ConvertOp(op, out.add_success()); !s.ok()) return s;
  }
  for (const etcdserverpb::RequestOp& op : in.failure()) {
    if (absl::Status s = ConvertOp(op, out.add_failure()); !s.ok()) return s;
  }
  return out;
}

void ToEtcd(const etcdserverpb::TxnRequest& req, const lockpb::TxnResponse& in,
            etcdserverpb::TxnResponse* out) {
  ToEtcdHeader(in.header(), out->mutable_header());
  out->set_succeeded(in.succeeded());
  const auto& ops = in.succeeded() ? req.success() : req.failure();
  for (int i = 0; i < in.responses_size(); ++i) {
    const lockpb::ResponseOp& r = in.responses(i);
    etcdserverpb::ResponseOp* o = out->add_responses();
    switch (r.response_case()) {
      case lockpb::ResponseOp::kResponseRange:
        ShapeRange(i < ops.size() ? ops[i].request_range() : RangeRequest(),
                   r.response_range(), o->mutable_response_range());
        // Inner results carry the transaction's header, as in etcd.
        o->mutable_response_range()->clear_header();
        break;
      case lockpb::ResponseOp::kResponsePut:
        ToEtcd(r.response_put(), o->mutable_response_put());
        o->mutable_response_put()->clear_header();
        break;
      case lockpb::ResponseOp::kResponseDeleteRange:
        ToEtcd(r.response_delete_range(), o->mutable_response_delete_range());
        o->mutable_response_delete_range()->clear_header();
        break;
      default:
        break;
    }
  }
}

}  // namespace berth::lockd::etcd
