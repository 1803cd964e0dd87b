#include "lockservice/lockd/services.h"
#include "lockservice/lockd/unary_call.h"

namespace berth::lockd {

grpc::ServerUnaryReactor* KvService::Range(grpc::CallbackServerContext* ctx,
                                           const lockpb::RangeRequest* req,
                                           lockpb::RangeResponse* resp) {
  if (absl::Status a = core_->AuthorizeKeys(*ctx, lock::kPermRead, "read",
                                            req->key(), req->range_end());
      !a.ok()) {
    return RefusedCall(a);
  }
  return ReadCall(core_, ctx, req->serializable(), resp,
                  [req](lock::StateMachine& sm) { return sm.Range(*req); });
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* ctx,
                                         const lockpb::PutRequest* req,
                                         lockpb::PutResponse* resp) {
  lockpb::Command cmd;
  *cmd.mutable_put() = *req;
  return ProposeCall(core_, ctx, std::move(cmd), resp, true,
                     [](lockpb::CommandResult& r, lockpb::PutResponse* out) {
                       *out = std::move(*r.mutable_put());
                     });
}

grpc::ServerUnaryReactor* KvService::DeleteRange(
    grpc::CallbackServerContext* ctx, const lockpb::DeleteRangeRequest* req,
    lockpb::DeleteRangeResponse* resp) {
  lockpb::Command cmd;
  *cmd.mutable_delete_range() = *req;
  return ProposeCall(
      core_, ctx, std::move(cmd), resp, true,
      [](lockpb::CommandResult& r, lockpb::DeleteRangeResponse* out) {
        *out = std::move(*r.mutable_delete_range());
      });
}

grpc::ServerUnaryReactor* KvService::Txn(grpc::CallbackServerContext* ctx,
                                         const lockpb::TxnRequest* req,
                                         lockpb::TxnResponse* resp) {
  lockpb::Command cmd;
  *cmd.mutable_txn() = *req;
  return ProposeCall(core_, ctx, std::move(cmd), resp, true,
                     [](lockpb::CommandResult& r, lockpb::TxnResponse* out) {
                       *out = std::move(*r.mutable_txn());
                     });
}

grpc::ServerUnaryReactor* KvService::Compact(
    grpc::CallbackServerContext* ctx, const lockpb::CompactionRequest* req,
    lockpb::CompactionResponse* resp) {
  lockpb::Command cmd;
  cmd.mutable_compact()->set_revision(req->revision());
  return ProposeCall(
      core_, ctx, std::move(cmd), resp, false,
      [](lockpb::CommandResult&, lockpb::CompactionResponse*) {});
}

}  // namespace berth::lockd
