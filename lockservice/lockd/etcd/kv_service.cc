#include "lockservice/lockd/etcd/kv_convert.h"
#include "lockservice/lockd/etcd/services.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lockd::etcd {
namespace {

// etcd clients recognise these errors by their text (clientv3's rpctypes).
Status AsEtcdRangeError(const Status& st) {
  if (st.error_code() != grpc::StatusCode::OUT_OF_RANGE) return st;
  if (st.error_message().find("compacted") != std::string::npos) {
    return Status(grpc::StatusCode::OUT_OF_RANGE,
                  "etcdserver: mvcc: required revision has been compacted");
  }
  if (st.error_message().find("future") != std::string::npos) {
    return Status(grpc::StatusCode::OUT_OF_RANGE,
                  "etcdserver: mvcc: required revision is a future revision");
  }
  return st;
}

}  // namespace

// Reads run on this replica, straight from its state machine after the
// same ReadIndex barrier berth's Range uses. Writes are proposed directly
// when this replica leads, else relayed to the leader (Backend::Write).
Status KvService::Range(ServerContext* ctx,
                        const etcdserverpb::RangeRequest* req,
                        etcdserverpb::RangeResponse* resp) {
  Core* core = b_->core();
  lockpb::RangeRequest in = ToBerth(*req);
  if (absl::Status a = core->AuthorizeKeys(*ctx, lock::kPermRead, "read",
                                           in.key(), in.range_end());
      !a.ok()) {
    return ToGrpc(a);
  }
  absl::Status barrier =
      core->ReadBarrier(in.serializable(), core->Deadline(ctx));
  if (!barrier.ok()) return ToGrpc(barrier);
  absl::StatusOr<lockpb::RangeResponse> out =
      core->store()->Read([&](lock::StateMachine& sm) { return sm.Range(in); });
  if (!out.ok()) return AsEtcdRangeError(ToGrpc(out.status()));
  core->FillHeader(out->mutable_header());
  ShapeRange(*req, *out, resp);
  return Status::OK;
}

Status KvService::Put(ServerContext* ctx, const etcdserverpb::PutRequest* req,
                      etcdserverpb::PutResponse* resp) {
  absl::StatusOr<lockpb::PutRequest> in = ToBerth(*req);
  if (!in.ok()) return ToGrpc(in.status());
  lockpb::Command cmd;
  *cmd.mutable_put() = *in;
  lockpb::PutResponse out;
  Status st = b_->Write(
      ctx, std::move(cmd), &out,
      [](lockpb::CommandResult& r, lockpb::PutResponse* o) {
        *o = std::move(*r.mutable_put());
      },
      [&](auto ch, grpc::ClientContext* c) {
        return lockpb::KV::NewStub(ch)->Put(c, *in, &out);
      });
  if (!st.ok()) return st;
  ToEtcd(out, resp);
  return Status::OK;
}

Status KvService::DeleteRange(ServerContext* ctx,
                              const etcdserverpb::DeleteRangeRequest* req,
                              etcdserverpb::DeleteRangeResponse* resp) {
  lockpb::DeleteRangeRequest in = ToBerth(*req);
  lockpb::Command cmd;
  *cmd.mutable_delete_range() = in;
  lockpb::DeleteRangeResponse out;
  Status st = b_->Write(
      ctx, std::move(cmd), &out,
      [](lockpb::CommandResult& r, lockpb::DeleteRangeResponse* o) {
        *o = std::move(*r.mutable_delete_range());
      },
      [&](auto ch, grpc::ClientContext* c) {
        return lockpb::KV::NewStub(ch)->DeleteRange(c, in, &out);
      });
  if (!st.ok()) return st;
  ToEtcd(out, resp);
  return Status::OK;
}

Status KvService::Txn(ServerContext* ctx, const etcdserverpb::TxnRequest* req,
                      etcdserverpb::TxnResponse* resp) {
  absl::StatusOr<lockpb::TxnRequest> in = ToBerth(*req);
  if (!in.ok()) return ToGrpc(in.status());
  lockpb::Command cmd;
  *cmd.mutable_txn() = *in;
  lockpb::TxnResponse out;
  Status st = b_->Write(
      ctx, std::move(cmd), &out,
      [](lockpb::CommandResult& r, lockpb::TxnResponse* o) {
        *o = std::move(*r.mutable_txn());
      },
      [&](auto ch, grpc::ClientContext* c) {
        return lockpb::KV::NewStub(ch)->Txn(c, *in, &out);
      });
  if (!st.ok()) return st;
  ToEtcd(*req, out, resp);
  return Status::OK;
}

// berth keeps only the latest value of each key, so compaction discards
// watch history, which is what etcd clients observe of it as well.
Status KvService::Compact(ServerContext* ctx,
                          const etcdserverpb::CompactionRequest* req,
                          etcdserverpb::CompactionResponse* resp) {
  lockpb::CompactionRequest in;
  in.set_revision(req->revision());
  lockpb::CompactionResponse out;
  Status st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
    return lockpb::KV::NewStub(ch)->Compact(c, in, &out);
  });
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  return Status::OK;
}

}  // namespace berth::lockd::etcd
