#include "lockservice/client/kv.h"

#include <utility>

#include "lockservice/client/internal/convert.h"
#include "lockservice/client/internal/router.h"
#include "lockservice/client/internal/write_ids.h"

namespace berth::lock {

using internal::Idempotency;
using internal::Stubs;

namespace {

Compare Numeric(Compare::Target target, std::string key, Compare::Op op,
                int64_t n) {
  Compare c;
  c.target = target;
  c.op = op;
  c.key = std::move(key);
  c.number = n;
  return c;
}

}  // namespace

Compare Compare::Version(std::string key, Op op, int64_t v) {
  return Numeric(Target::kVersion, std::move(key), op, v);
}
Compare Compare::CreateRevision(std::string key, Op op, int64_t rev) {
  return Numeric(Target::kCreateRevision, std::move(key), op, rev);
}
Compare Compare::ModRevision(std::string key, Op op, int64_t rev) {
  return Numeric(Target::kModRevision, std::move(key), op, rev);
}
Compare Compare::Lease(std::string key, Op op, int64_t lease) {
  return Numeric(Target::kLease, std::move(key), op, lease);
}
Compare Compare::Value(std::string key, Op op, std::string value) {
  Compare c;
  c.target = Target::kValue;
  c.op = op;
  c.key = std::move(key);
  c.value = std::move(value);
  return c;
}

TxnOp TxnOp::Get(std::string key, RangeOptions options) {
  TxnOp op;
  op.kind = Kind::kGet;
  op.key = std::move(key);
  op.range = std::move(options);
  return op;
}
TxnOp TxnOp::Put(std::string key, std::string value, PutOptions options) {
  TxnOp op;
  op.kind = Kind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.put = options;
  return op;
}
TxnOp TxnOp::Delete(std::string key, DeleteOptions options) {
  TxnOp op;
  op.kind = Kind::kDelete;
  op.key = std::move(key);
  op.del = std::move(options);
  return op;
}

Txn& Txn::If(Compare compare) {
  compares_.push_back(std::move(compare));
  return *this;
}
Txn& Txn::Then(TxnOp op) {
  then_.push_back(std::move(op));
  return *this;
}
Txn& Txn::Else(TxnOp op) {
  else_.push_back(std::move(op));
  return *this;
}
Txn& Txn::Guard(std::string lock_name, int64_t token) {
  guard_ = std::make_pair(std::move(lock_name), token);
  return *this;
}
absl::StatusOr<TxnResult> Txn::Commit() { return kv_->Commit(*this); }

KV::KV(internal::Router* router) : router_(router) {
  if (router_->options().exactly_once_writes) {
    write_ids_ = std::make_unique<internal::WriteIds>();
  }
}

KV::~KV() = default;

template <typename Resp, typename Fn>
absl::StatusOr<Resp> KV::Write(absl::string_view what, Fn fn) {
  if (write_ids_ == nullptr) {
    return router_->Call<Resp>(
        what, Idempotency::kNonIdempotent,
        [&](Stubs& s, grpc::ClientContext* ctx, Resp* out) {
          return fn(s, ctx, out, nullptr);
        });
  }
  // One seq for every attempt of this call; its end (whatever the outcome)
  // lets the servers forget the answer.
  internal::WriteIds::Ticket ticket = write_ids_->Begin();
  return router_->Call<Resp>(
      what, Idempotency::kDeduplicated,
      [&](Stubs& s, grpc::ClientContext* ctx, Resp* out) {
        return fn(s, ctx, out, &ticket.id());
      });
}

absl::StatusOr<std::optional<KeyValue>> KV::Get(absl::string_view key,
                                                bool serializable) {
  RangeOptions options;
  options.serializable = serializable;
  absl::StatusOr<RangeResult> r = Range(key, options);
  if (!r.ok()) return r.status();
  if (r->kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(r->kvs.front()));
}

absl::StatusOr<RangeResult> KV::Range(absl::string_view key,
                                      const RangeOptions& options) {
  lockpb::RangeRequest req = internal::ToRangeRequest(key, options);
  auto resp = router_->Call<lockpb::RangeResponse>(
      "range", Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::RangeResponse* out) {
        return s.kv->Range(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  return internal::FromProto(*resp);
}

absl::StatusOr<PutResult> KV::Put(absl::string_view key,
                                  absl::string_view value,
                                  const PutOptions& options) {
  lockpb::PutRequest req = internal::ToPutRequest(key, value, options);
  auto resp = Write<lockpb::PutResponse>(
      "put", [&](Stubs& s, grpc::ClientContext* ctx, lockpb::PutResponse* out,
                 const lockpb::WriteId* id) {
        if (id != nullptr) *req.mutable_write_id() = *id;
        return s.kv->Put(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  return internal::FromProto(*resp);
}

absl::StatusOr<DeleteResult> KV::Delete(absl::string_view key,
                                        const DeleteOptions& options) {
  lockpb::DeleteRangeRequest req = internal::ToDeleteRequest(key, options);
  auto resp = Write<lockpb::DeleteRangeResponse>(
      "delete",
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::DeleteRangeResponse* out,
          const lockpb::WriteId* id) {
        if (id != nullptr) *req.mutable_write_id() = *id;
        return s.kv->DeleteRange(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  return internal::FromProto(*resp);
}

absl::StatusOr<TxnResult> KV::Commit(const lock::Txn& txn) {
  lockpb::TxnRequest req;
  for (const Compare& c : txn.compares_) {
    *req.add_compare() = internal::ToProto(c);
  }
  for (const TxnOp& op : txn.then_) *req.add_success() = internal::ToProto(op);
  for (const TxnOp& op : txn.else_) *req.add_failure() = internal::ToProto(op);
  if (txn.guard_.has_value()) {
    req.mutable_guard()->set_lock_name(txn.guard_->first);
    req.mutable_guard()->set_token(txn.guard_->second);
  }
  auto resp = Write<lockpb::TxnResponse>(
      "txn", [&](Stubs& s, grpc::ClientContext* ctx, lockpb::TxnResponse* out,
                 const lockpb::WriteId* id) {
        if (id != nullptr) *req.mutable_write_id() = *id;
        return s.kv->Txn(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  TxnResult result;
  result.revision = resp->header().revision();
  result.succeeded = resp->succeeded();
  for (const lockpb::ResponseOp& op : resp->responses()) {
    TxnOpResult r;
    if (op.has_response_range()) {
      r.kind = TxnOp::Kind::kGet;
      r.range = internal::FromProto(op.response_range());
    } else if (op.has_response_put()) {
      r.kind = TxnOp::Kind::kPut;
      r.put = internal::FromProto(op.response_put());
    } else {
      r.kind = TxnOp::Kind::kDelete;
      r.del = internal::FromProto(op.response_delete_range());
    }
    result.results.push_back(std::move(r));
  }
  return result;
}

absl::Status KV::Compact(int64_t revision) {
  lockpb::CompactionRequest req;
  req.set_revision(revision);
  // Compacting twice to the same revision is harmless, so retry freely.
  auto resp = router_->Call<lockpb::CompactionResponse>(
      "compact", Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::CompactionResponse* out) {
        return s.kv->Compact(ctx, req, out);
      });
  return resp.status();
}

}  // namespace berth::lock
