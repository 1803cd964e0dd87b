#include "lockservice/client/internal/convert.h"

#include "lockservice/client/internal/endpoints.h"

namespace berth::lock::internal {

KeyValue FromProto(const lockpb::KeyValue& kv) {
  KeyValue out;
  out.key = kv.key();
  out.value = kv.value();
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  out.version = kv.version();
  out.lease = kv.lease();
  return out;
}

Member FromProto(const lockpb::Member& m) {
  return Member{m.id(), m.name(), m.address(), m.is_learner()};
}

RangeResult FromProto(const lockpb::RangeResponse& r) {
  RangeResult out;
  out.revision = r.header().revision();
  out.more = r.more();
  out.count = r.count();
  for (const lockpb::KeyValue& kv : r.kvs()) out.kvs.push_back(FromProto(kv));
  return out;
}

PutResult FromProto(const lockpb::PutResponse& r) {
  PutResult out;
  out.revision = r.header().revision();
  if (r.has_prev_kv()) out.prev_kv = FromProto(r.prev_kv());
  return out;
}

DeleteResult FromProto(const lockpb::DeleteRangeResponse& r) {
  DeleteResult out;
  out.revision = r.header().revision();
  out.deleted = r.deleted();
  for (const lockpb::KeyValue& kv : r.prev_kvs()) {
    out.prev_kvs.push_back(FromProto(kv));
  }
  return out;
}

lockpb::RangeRequest ToRangeRequest(absl::string_view key,
                                    const RangeOptions& options) {
  lockpb::RangeRequest req;
  req.set_key(std::string(key));
  req.set_range_end(options.prefix ? PrefixRangeEnd(key) : options.range_end);
  req.set_limit(options.limit);
  req.set_serializable(options.serializable);
  req.set_keys_only(options.keys_only);
  req.set_count_only(options.count_only);
  return req;
}

lockpb::PutRequest ToPutRequest(absl::string_view key, absl::string_view value,
                                const PutOptions& options) {
  lockpb::PutRequest req;
  req.set_key(std::string(key));
  req.set_value(std::string(value));
  req.set_lease(options.lease);
  req.set_prev_kv(options.prev_kv);
  return req;
}

lockpb::DeleteRangeRequest ToDeleteRequest(absl::string_view key,
                                           const DeleteOptions& options) {
  lockpb::DeleteRangeRequest req;
  req.set_key(std::string(key));
  req.set_range_end(options.prefix ? PrefixRangeEnd(key) : options.range_end);
  req.set_prev_kv(options.prev_kv);
  return req;
}

lockpb::Compare ToProto(const Compare& c) {
  lockpb::Compare out;
  out.set_key(c.key);
  switch (c.op) {
    case Compare::Op::kEqual:
      out.set_result(lockpb::Compare::EQUAL);
      break;
    case Compare::Op::kNotEqual:
      out.set_result(lockpb::Compare::NOT_EQUAL);
      break;
    case Compare::Op::kGreater:
      out.set_result(lockpb::Compare::GREATER);
      break;
    case Compare::Op::kLess:
      out.set_result(lockpb::Compare::LESS);
      break;
  }
  switch (c.target) {
    case Compare::Target::kVersion:
      out.set_target(lockpb::Compare::VERSION);
      out.set_version(c.number);
      break;
    case Compare::Target::kCreateRevision:
      out.set_target(lockpb::Compare::CREATE);
      out.set_create_revision(c.number);
      break;
    case Compare::Target::kModRevision:
      out.set_target(lockpb::Compare::MOD);
      out.set_mod_revision(c.number);
      break;
    case Compare::Target::kValue:
      out.set_target(lockpb::Compare::VALUE);
      out.set_value(c.value);
      break;
    case Compare::Target::kLease:
      out.set_target(lockpb::Compare::LEASE);
      out.set_lease(c.number);
      break;
  }
  return out;
}

lockpb::RequestOp ToProto(const TxnOp& op) {
  lockpb::RequestOp out;
  switch (op.kind) {
    case TxnOp::Kind::kGet:
      *out.mutable_request_range() = ToRangeRequest(op.key, op.range);
      break;
    case TxnOp::Kind::kPut:
      *out.mutable_request_put() = ToPutRequest(op.key, op.value, op.put);
      break;
    case TxnOp::Kind::kDelete:
      *out.mutable_request_delete_range() = ToDeleteRequest(op.key, op.del);
      break;
  }
  return out;
}

}  // namespace berth::lock::internal
