#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lockservice/lockd/services.h"

namespace berth::lockd {
namespace {

// Per-stream cap on queued, undelivered events before the stream's watches
// are cancelled as too slow.
constexpr size_t kMaxPendingEvents = 100000;
// An idle watch that asked for progress notifications hears the current
// revision this often.
constexpr absl::Duration kProgressInterval = absl::Seconds(2);

}  // namespace

grpc::Status WatchService::Watch(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<lockpb::WatchResponse, lockpb::WatchRequest>*
        stream) {
  // A sync server stream sends its initial metadata with the first Write.
  // When that first Write carries a buffer hint (the created notice queued
  // together with replayed history), gRPC holds metadata and message both
  // and the Write never completes: the watch hung with its history
  // unsent. Sending the metadata up front leaves only messages to buffer.
  stream->SendInitialMetadata();
  WatchSink sink(kMaxPendingEvents);
  absl::Mutex mu;
  std::map<int64_t, bool> progress_ids;  // watch id -> progress_notify
  int64_t next_id = 1;

  // gRPC allows one reader and one writer concurrently on a stream: this
  // thread reads requests, the handler thread writes responses.
  std::thread reader([&] {
    lockpb::WatchRequest req;
    while (stream->Read(&req)) {
      if (req.has_create_request()) {
        const lockpb::WatchCreateRequest& c = req.create_request();
        int64_t id;
        {
          absl::MutexLock l(&mu);
          id = c.watch_id() != 0 ? c.watch_id() : next_id++;
          if (progress_ids.contains(id)) {
            lockpb::WatchResponse r;
            r.set_watch_id(id);
            r.set_canceled(true);
            r.set_cancel_reason(absl::StrCat("watch id ", id,
                                             " is already in use on this "
                                             "stream"));
            sink.PushControl(std::move(r));
            continue;
          }
          // Checked once, at creation: a permission revoked later does not
          // end a running watch (as in etcd).
          if (absl::Status a = core_->AuthorizeKeys(
                  *ctx, lock::kPermRead, "watch", c.key(), c.range_end());
              !a.ok()) {
            lockpb::WatchResponse r;
            r.set_watch_id(id);
            r.set_canceled(true);
            r.set_cancel_reason(absl::StrCat(absl::StatusCodeToString(a.code()),
                                             ": ", a.message()));
            sink.PushControl(std::move(r));
            continue;
          }
          progress_ids[id] = c.progress_notify();
        }
        WatchHub::Spec spec{c.key(), c.range_end(), c.start_revision(),
                            c.prev_kv()};
        lockpb::WatchResponse created;
        created.set_watch_id(id);
        created.set_created(true);
        core_->FillHeader(created.mutable_header());
        // The created notice must precede replayed history.
        sink.PushControl(created);
        int64_t compact = 0;
        absl::Status st = core_->store()->StartWatch(&sink, id, spec, &compact);
        if (!st.ok()) {
          lockpb::WatchResponse r;
          r.set_watch_id(id);
          r.set_canceled(true);
          r.set_compact_revision(compact);
          r.set_cancel_reason(std::string(st.message()));
          core_->FillHeader(r.mutable_header());
          sink.PushControl(std::move(r));
          absl::MutexLock l(&mu);
          progress_ids.erase(id);
        }
      } else if (req.has_cancel_request()) {
        int64_t id = req.cancel_request().watch_id();
        hub_->Remove(&sink, id);
        lockpb::WatchResponse r;
        r.set_watch_id(id);
        r.set_canceled(true);
        r.set_cancel_reason("cancelled by the client");
        sink.PushControl(std::move(r));
        absl::MutexLock l(&mu);
        progress_ids.erase(id);
      } else if (req.has_progress_request()) {
        lockpb::WatchResponse r;
        r.set_watch_id(-1);
        core_->FillHeader(r.mutable_header());
        sink.PushControl(std::move(r));
      }
    }
    sink.Close();
  });

  absl::Time last_write = absl::Now();
  std::vector<Outbound> out;
  lockpb::WatchResponse msg;
  while (!ctx->IsCancelled()) {
    out.clear();
    if (!sink.PopBatch(&out, absl::Now() + absl::Milliseconds(500))) break;
    if (out.empty() && absl::Now() - last_write >= kProgressInterval) {
      absl::MutexLock l(&mu);
      for (auto& [id, want] : progress_ids) {
        if (!want) continue;
        auto r = std::make_shared<lockpb::WatchResponse>();
        core_->FillHeader(r->mutable_header());
        out.push_back(Outbound{std::move(r), {id}});
      }
    }
    size_t left = 0;
    for (const Outbound& o : out) left += o.watch_ids.size();
    bool ok = true;
    for (const Outbound& o : out) {
      if (o.body->canceled()) {
        absl::MutexLock l(&mu);
        for (int64_t id : o.watch_ids) progress_ids.erase(id);
      }
      // One body, stamped with each watch id in turn: Write serializes
      // before it returns, so reusing `msg` is safe. All but the last
      // message of the batch are buffered, so a fan-out to many watches of
      // this stream leaves in a few large writes instead of one per watch.
      msg.CopyFrom(*o.body);
      for (int64_t id : o.watch_ids) {
        msg.set_watch_id(id);
        grpc::WriteOptions opts;
        if (--left > 0) opts.set_buffer_hint();
        if (!stream->Write(msg, opts)) {
          ok = false;
          break;
        }
      }
      if (!ok) break;
    }
    if (!ok) break;
    if (!out.empty()) last_write = absl::Now();
  }
  hub_->RemoveSink(&sink);
  ctx->TryCancel();
  reader.join();
  // The reader may have registered a watch after the first removal.
  hub_->RemoveSink(&sink);
  return grpc::Status::OK;
}

}  // namespace berth::lockd
