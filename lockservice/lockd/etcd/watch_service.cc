#include <atomic>
#include <deque>
#include <map>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "lockservice/lockd/etcd/kv_convert.h"
#include "lockservice/lockd/etcd/services.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lockd::etcd {
namespace {

using etcdserverpb::WatchCreateRequest;
using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

struct Filters {
  bool no_put = false;
  bool no_delete = false;
};

// Filters per watch. berth's watches have none, so they are applied here.
// A create's filters are queued until berth's "created" answer names the
// watch id (answers come in the order the creates were sent).
class FilterTable {
 public:
  void Created(const WatchCreateRequest& c) {
    Filters f;
    for (int t : c.filters()) {
      if (t == WatchCreateRequest::NOPUT) f.no_put = true;
      if (t == WatchCreateRequest::NODELETE) f.no_delete = true;
    }
    absl::MutexLock l(&mu_);
    pending_.push_back(f);
  }
  // Returns false when every event was filtered out of a pure event
  // response, which is then not sent.
  bool Apply(const lockpb::WatchResponse& in, WatchResponse* out) {
    absl::MutexLock l(&mu_);
    if (in.created() && !pending_.empty()) {
      by_id_[in.watch_id()] = pending_.front();
      pending_.pop_front();
    }
    Filters f = by_id_[in.watch_id()];
    if (in.canceled()) by_id_.erase(in.watch_id());
    for (const lockpb::Event& e : in.events()) {
      bool del = e.type() == lockpb::Event::DELETE;
      if ((del && f.no_delete) || (!del && f.no_put)) continue;
      ToEtcd(e, out->add_events());
    }
    bool pure_events = in.events_size() > 0 && !in.created() && !in.canceled();
    return !(pure_events && out->events_size() == 0);
  }

 private:
  absl::Mutex mu_;
  std::deque<Filters> pending_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Filters> by_id_ ABSL_GUARDED_BY(mu_);
};

lockpb::WatchRequest ToBerth(const WatchRequest& in) {
  lockpb::WatchRequest out;
  if (in.has_create_request()) {
    const WatchCreateRequest& c = in.create_request();
    lockpb::WatchCreateRequest* o = out.mutable_create_request();
    o->set_key(c.key());
    o->set_range_end(c.range_end());
    o->set_start_revision(c.start_revision());
    o->set_progress_notify(c.progress_notify());
    o->set_prev_kv(c.prev_kv());
    o->set_watch_id(c.watch_id());
  } else if (in.has_cancel_request()) {
    out.mutable_cancel_request()->set_watch_id(in.cancel_request().watch_id());
  } else if (in.has_progress_request()) {
    out.mutable_progress_request();
  }
  return out;
}

}  // namespace

// Relays the stream to a berth watch stream on this replica: berth serves
// watches on every replica from its applied history, with the same
// revisions, start revisions, prev_kv, progress and compaction answers.
Status WatchService::Watch(
    ServerContext* ctx,
    grpc::ServerReaderWriter<WatchResponse, WatchRequest>* stream) {
  auto cctx = b_->ContextFor(ctx);
  auto up = lockpb::Watch::NewStub(b_->Local())->Watch(cctx.get());
  FilterTable filters;
  std::atomic<bool> client_done{false};
  std::thread reader([&] {
    WatchRequest req;
    while (stream->Read(&req)) {
      if (req.has_create_request()) filters.Created(req.create_request());
      if (!up->Write(ToBerth(req))) break;
    }
    up->WritesDone();
    client_done = true;
  });
  lockpb::WatchResponse in;
  while (up->Read(&in)) {
    WatchResponse out;
    if (!filters.Apply(in, &out)) continue;
    lockpb::ResponseHeader h = in.header();
    // berth's cancel notices carry no header; etcd's do.
    if (h.revision() == 0) b_->core()->FillHeader(&h);
    ToEtcdHeader(h, out.mutable_header());
    out.set_watch_id(in.watch_id());
    out.set_created(in.created());
    out.set_canceled(in.canceled());
    out.set_compact_revision(in.compact_revision());
    out.set_cancel_reason(in.cancel_reason());
    if (!stream->Write(out)) break;
  }
  cctx->TryCancel();
  grpc::Status st = up->Finish();
  if (!client_done) ctx->TryCancel();
  reader.join();
  return st.ok() ? Status::OK : st;
}

}  // namespace berth::lockd::etcd
