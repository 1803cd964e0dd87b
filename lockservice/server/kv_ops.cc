#include "lockservice/server/kv_ops.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace berth::lock {
namespace {

template <typename T>
bool Holds(lockpb::Compare::CompareResult r, const T& have, const T& want) {
  switch (r) {
    case lockpb::Compare::EQUAL:
      return have == want;
    case lockpb::Compare::NOT_EQUAL:
      return have != want;
    case lockpb::Compare::LESS:
      return have < want;
    case lockpb::Compare::GREATER:
      return have > want;
    default:
      return false;
  }
}

}  // namespace

absl::Status KvOps::ValidatePut(const lockpb::PutRequest& req) const {
  if (req.key().empty()) return absl::InvalidArgumentError("key is empty");
  if (req.key().size() > limits_->max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("key is ", req.key().size(),
                                                   " bytes; the limit is ",
                                                   limits_->max_key_bytes));
  }
  if (req.value().size() > limits_->max_value_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("value is ", req.value().size(), " bytes; the limit is ",
                     limits_->max_value_bytes));
  }
  if (req.lease() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease id must be >= 0, got ", req.lease()));
  }
  return absl::OkStatus();
}

absl::Status KvOps::ValidateOp(const lockpb::RequestOp& op) const {
  switch (op.request_case()) {
    case lockpb::RequestOp::kRequestPut:
      return ValidatePut(op.request_put());
    case lockpb::RequestOp::kRequestDeleteRange:
      return ValidateRange(op.request_delete_range().key(),
                           op.request_delete_range().range_end());
    case lockpb::RequestOp::kRequestRange:
      if (op.request_range().revision() != 0) {
        return absl::InvalidArgumentError(
            "a range inside a transaction must read the latest revision "
            "(revision 0)");
      }
      return ValidateRange(op.request_range().key(),
                           op.request_range().range_end());
    default:
      return absl::InvalidArgumentError("transaction op has no request set");
  }
}

absl::Status KvOps::ValidateTxn(const lockpb::TxnRequest& req) const {
  auto too_many = [&](const char* what, int n) {
    return absl::InvalidArgumentError(absl::StrCat("transaction has ", n, " ",
                                                   what, "; the limit is ",
                                                   limits_->max_txn_ops));
  };
  if (req.compare_size() > limits_->max_txn_ops) {
    return too_many("compares", req.compare_size());
  }
  if (req.success_size() > limits_->max_txn_ops) {
    return too_many("success ops", req.success_size());
  }
  if (req.failure_size() > limits_->max_txn_ops) {
    return too_many("failure ops", req.failure_size());
  }
  for (const lockpb::Compare& c : req.compare()) {
    if (c.key().empty())
      return absl::InvalidArgumentError("compare key is empty");
    if (c.target_union_case() == lockpb::Compare::TARGET_UNION_NOT_SET) {
      return absl::InvalidArgumentError(
          absl::StrCat("compare on key \"", c.key(), "\" has no target value"));
    }
  }
  for (const auto* ops : {&req.success(), &req.failure()}) {
    for (const lockpb::RequestOp& op : *ops) {
      if (absl::Status s = ValidateOp(op); !s.ok()) return s;
    }
  }
  if (req.has_guard() && req.guard().lock_name().empty()) {
    return absl::InvalidArgumentError("fencing guard has an empty lock name");
  }
  return absl::OkStatus();
}

absl::StatusOr<lockpb::PutResponse> KvOps::Put(ApplyContext& ctx,
                                               const lockpb::PutRequest& req) {
  if (absl::Status s = ValidatePut(req); !s.ok()) return s;
  if (req.lease() != 0) {
    absl::StatusOr<std::optional<LeaseRecord>> l = leases_->Get(req.lease());
    if (!l.ok()) return l.status();
    if (!l->has_value()) {
      return absl::NotFoundError(
          absl::StrCat("lease ", req.lease(), " not found"));
    }
  }
  if (absl::Status s = locks_->CheckNoHolderKeys(req.key(), ""); !s.ok()) {
    return s;
  }
  lockpb::PutResponse out;
  lockpb::KeyValue prev;
  if (absl::Status s =
          kv_->Put(ctx, req.key(), req.value(), req.lease(), &prev);
      !s.ok()) {
    return s;
  }
  if (req.prev_kv() && !prev.key().empty()) *out.mutable_prev_kv() = prev;
  return out;
}

absl::StatusOr<lockpb::DeleteRangeResponse> KvOps::DeleteRange(
    ApplyContext& ctx, const lockpb::DeleteRangeRequest& req) {
  if (absl::Status s = ValidateRange(req.key(), req.range_end()); !s.ok()) {
    return s;
  }
  if (absl::Status s = locks_->CheckNoHolderKeys(req.key(), req.range_end());
      !s.ok()) {
    return s;
  }
  std::vector<lockpb::KeyValue> prev;
  absl::StatusOr<int64_t> n =
      kv_->DeleteRange(ctx, req.key(), req.range_end(), &prev);
  if (!n.ok()) return n.status();
  lockpb::DeleteRangeResponse out;
  out.set_deleted(*n);
  if (req.prev_kv()) {
    for (lockpb::KeyValue& kv : prev) *out.add_prev_kvs() = std::move(kv);
  }
  return out;
}

absl::StatusOr<bool> KvOps::Evaluate(const lockpb::Compare& c) {
  absl::StatusOr<std::optional<lockpb::KeyValue>> got = kv_->Get(c.key());
  if (!got.ok()) return got.status();
  // A missing key compares as all zeroes and an empty value.
  lockpb::KeyValue kv = got->value_or(lockpb::KeyValue());
  switch (c.target()) {
    case lockpb::Compare::VERSION:
      return Holds(c.result(), kv.version(), c.version());
    case lockpb::Compare::CREATE:
      return Holds(c.result(), kv.create_revision(), c.create_revision());
    case lockpb::Compare::MOD:
      return Holds(c.result(), kv.mod_revision(), c.mod_revision());
    case lockpb::Compare::VALUE:
      return Holds(c.result(), kv.value(), c.value());
    case lockpb::Compare::LEASE:
      return Holds(c.result(), kv.lease(), c.lease());
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown compare target ", c.target()));
  }
}

absl::StatusOr<lockpb::TxnResponse> KvOps::Txn(ApplyContext& ctx,
                                               const lockpb::TxnRequest& req) {
  if (absl::Status s = ValidateTxn(req); !s.ok()) return s;
  if (req.has_guard()) {
    absl::Status s =
        locks_->CheckToken(req.guard().lock_name(), req.guard().token());
    if (!s.ok()) return s;
  }
  bool ok = true;
  for (const lockpb::Compare& c : req.compare()) {
    absl::StatusOr<bool> holds = Evaluate(c);
    if (!holds.ok()) return holds.status();
    if (!*holds) {
      ok = false;
      break;
    }
  }
  lockpb::TxnResponse out;
  out.set_succeeded(ok);
  for (const lockpb::RequestOp& op : ok ? req.success() : req.failure()) {
    lockpb::ResponseOp* r = out.add_responses();
    switch (op.request_case()) {
      case lockpb::RequestOp::kRequestPut: {
        absl::StatusOr<lockpb::PutResponse> p = Put(ctx, op.request_put());
        if (!p.ok()) return p.status();
        *r->mutable_response_put() = *std::move(p);
        break;
      }
      case lockpb::RequestOp::kRequestDeleteRange: {
        absl::StatusOr<lockpb::DeleteRangeResponse> d =
            DeleteRange(ctx, op.request_delete_range());
        if (!d.ok()) return d.status();
        *r->mutable_response_delete_range() = *std::move(d);
        break;
      }
      case lockpb::RequestOp::kRequestRange: {
        absl::StatusOr<lockpb::RangeResponse> g =
            kv_->Range(op.request_range());
        if (!g.ok()) return g.status();
        *r->mutable_response_range() = *std::move(g);
        break;
      }
      default:
        return absl::InvalidArgumentError("transaction op has no request set");
    }
  }
  return out;
}

}  // namespace berth::lock
