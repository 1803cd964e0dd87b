#include "lockservice/lockd/services.h"

namespace berth::lockd {

grpc::Status KvService::Range(grpc::ServerContext* ctx,
                              const lockpb::RangeRequest* req,
                              lockpb::RangeResponse* resp) {
  absl::Status st =
      core_->ReadBarrier(req->serializable(), core_->Deadline(ctx));
  if (!st.ok()) return ToGrpc(st);
  absl::StatusOr<lockpb::RangeResponse> r = core_->store()->Read(
      [&](lock::StateMachine& sm) { return sm.Range(*req); });
  if (!r.ok()) return ToGrpc(r.status());
  *resp = std::move(*r);
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status KvService::Put(grpc::ServerContext* ctx,
                            const lockpb::PutRequest* req,
                            lockpb::PutResponse* resp) {
  lockpb::Command cmd;
  *cmd.mutable_put() = *req;
  absl::StatusOr<lockpb::CommandResult> r =
      core_->Propose(std::move(cmd), core_->Deadline(ctx));
  if (!r.ok()) return ToGrpc(r.status());
  *resp = r->put();
  core_->FillHeader(resp->mutable_header());
  resp->mutable_header()->set_revision(r->revision());
  return grpc::Status::OK;
}

grpc::Status KvService::DeleteRange(grpc::ServerContext* ctx,
                                    const lockpb::DeleteRangeRequest* req,
                                    lockpb::DeleteRangeResponse* resp) {
  lockpb::Command cmd;
  *cmd.mutable_delete_range() = *req;
  absl::StatusOr<lockpb::CommandResult> r =
      core_->Propose(std::move(cmd), core_->Deadline(ctx));
  if (!r.ok()) return ToGrpc(r.status());
  *resp = r->delete_range();
  core_->FillHeader(resp->mutable_header());
  resp->mutable_header()->set_revision(r->revision());
  return grpc::Status::OK;
}

grpc::Status KvService::Txn(grpc::ServerContext* ctx,
                            const lockpb::TxnRequest* req,
                            lockpb::TxnResponse* resp) {
  lockpb::Command cmd;
  *cmd.mutable_txn() = *req;
  absl::StatusOr<lockpb::CommandResult> r =
      core_->Propose(std::move(cmd), core_->Deadline(ctx));
  if (!r.ok()) return ToGrpc(r.status());
  *resp = r->txn();
  core_->FillHeader(resp->mutable_header());
  resp->mutable_header()->set_revision(r->revision());
  return grpc::Status::OK;
}

grpc::Status KvService::Compact(grpc::ServerContext* ctx,
                                const lockpb::CompactionRequest* req,
                                lockpb::CompactionResponse* resp) {
  lockpb::Command cmd;
  cmd.mutable_compact()->set_revision(req->revision());
  return core_->ProposeInto(ctx, std::move(cmd), resp);
}

}  // namespace berth::lockd
