#include "lockservice/lockd/etcd/services.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lockd::etcd {

// A v3lock lock is a berth lock of the same name: it queues in berth's FIFO
// lock queue behind berth clients and shows as held in berth's Holder.
// etcd's Lock answers the holder key "<name>/<lease>", as berth does.
Status LockService::Lock(ServerContext* ctx, const v3lockpb::LockRequest* req,
                         v3lockpb::LockResponse* resp) {
  lockpb::LockRequest in;
  in.set_name(req->name());
  in.set_lease(req->lease());
  // etcd's lock has no lock-delay: a dead holder's lock passes at once.
  in.set_lock_delay_ms(0);
  lockpb::LockResponse out;
  Status st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
    return lockpb::Lock::NewStub(ch)->Lock(c, in, &out);
  });
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  resp->set_key(out.key());
  return Status::OK;
}

// etcd unlocks by deleting the holder key; berth by name and fencing
// token. The token is the holder's current one if `key` still holds the
// lock; any other key (a stale or foreign one) is deleted like etcd does.
Status LockService::Unlock(ServerContext* ctx,
                           const v3lockpb::UnlockRequest* req,
                           v3lockpb::UnlockResponse* resp) {
  const std::string& key = req->key();
  size_t slash = key.rfind('/');
  lockpb::HolderResponse holder;
  if (slash != std::string::npos) {
    lockpb::HolderRequest h;
    h.set_name(key.substr(0, slash));
    auto cctx = b_->ContextFor(ctx);
    Status st =
        lockpb::Lock::NewStub(b_->Local())->Holder(cctx.get(), h, &holder);
    if (!st.ok()) return st;
  }
  Status st;
  if (holder.held() && holder.key() == key) {
    lockpb::UnlockRequest in;
    in.set_name(key.substr(0, slash));
    in.set_token(holder.token());
    lockpb::UnlockResponse out;
    st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
      return lockpb::Lock::NewStub(ch)->Unlock(c, in, &out);
    });
    if (st.ok()) ToEtcdHeader(out.header(), resp->mutable_header());
  } else {
    lockpb::DeleteRangeRequest in;
    in.set_key(key);
    lockpb::DeleteRangeResponse out;
    st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
      return lockpb::KV::NewStub(ch)->DeleteRange(c, in, &out);
    });
    if (st.ok()) ToEtcdHeader(out.header(), resp->mutable_header());
  }
  return st;
}

}  // namespace berth::lockd::etcd
