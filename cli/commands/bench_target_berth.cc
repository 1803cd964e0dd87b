// The berth-lockd BenchTarget: KV for put/get/cas, a Session + Mutex per
// client for lock handoffs, lock::Watch for watches, and leases renewed over
// one LeaseKeepAlive stream per client for the sessions workload.
//
// Note on connections: lock::Client channels use gRPC's global subchannel
// pool, so separate Clients to the same replica may still share one HTTP/2
// connection. --shared-client also shares the Client's leader tracking.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/commands/bench_target.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"
#include "lockservice/client/watch.h"
#include "proto/lock.grpc.pb.h"

namespace berth::cli {

namespace {

class BerthWatch : public BenchWatch {
 public:
  explicit BerthWatch(std::unique_ptr<lock::Watch> watch)
      : watch_(std::move(watch)) {}

 private:
  std::unique_ptr<lock::Watch> watch_;
};

class BerthClient : public BenchClient {
 public:
  // Uses `owned` if set, else borrows `shared`.
  BerthClient(std::unique_ptr<lock::Client> owned, lock::Client* shared,
              std::shared_ptr<grpc::ChannelCredentials> credentials)
      : owned_(std::move(owned)),
        client_(owned_ ? owned_.get() : shared),
        credentials_(credentials ? std::move(credentials)
                                 : grpc::InsecureChannelCredentials()) {}

  ~BerthClient() override {
    CloseKeepAliveStream();
    mutex_.reset();
    // Revoke the lease so that nothing waits on a dead bench session.
    if (session_) session_->Close().IgnoreError();
  }

  absl::Status Put(absl::string_view key, absl::string_view value) override {
    return client_->kv().Put(key, value).status();
  }

  absl::Status Get(absl::string_view key, bool serializable) override {
    return client_->kv().Get(key, serializable).status();
  }

  absl::StatusOr<absl::Time> LockHandoff(absl::string_view name,
                                         Clock* clock) override {
    if (session_ == nullptr || session_->lost()) {
      mutex_.reset();
      session_.reset();
      auto s = lock::Session::Create(client_);
      if (!s.ok()) return s.status();
      session_ = *std::move(s);
    }
    if (mutex_ == nullptr || mutex_->name() != name) {
      mutex_ = std::make_unique<lock::Mutex>(session_.get(), std::string(name));
    }
    if (mutex_->held()) {
      // An earlier Unlock failed (an election, say): release first, or
      // every Lock would fail at once with "already held" in a tight loop.
      if (absl::Status st = mutex_->Unlock(); !st.ok()) return st;
    }
    // Bounded so that a dead cluster ends the run instead of hanging it.
    absl::Status st = mutex_->Lock(absl::Seconds(60));
    if (!st.ok()) return st;
    absl::Time granted = clock->Monotonic();
    st = mutex_->Unlock();
    if (!st.ok()) return st;
    return granted;
  }

  absl::StatusOr<bool> CompareAndSwap(absl::string_view key,
                                      absl::string_view value) override {
    auto cur = client_->kv().Get(key);
    if (!cur.ok()) return cur.status();
    const int64_t rev = cur->has_value() ? (*cur)->mod_revision : 0;
    auto r = client_->kv()
                 .Txn()
                 .If(lock::Compare::ModRevision(std::string(key),
                                                lock::Compare::Op::kEqual, rev))
                 .Then(lock::TxnOp::Put(std::string(key), std::string(value)))
                 .Commit();
    if (!r.ok()) return r.status();
    return r->succeeded;
  }

  absl::StatusOr<int64_t> OpenSession(absl::Duration ttl) override {
    auto g = client_->GrantLease(ttl);
    if (!g.ok()) return g.status();
    return g->id;
  }

  // One request and its answer on this client's stream to the leader. The
  // stream is reopened (leader looked up again) after any failure.
  absl::Status KeepAlive(int64_t session) override {
    if (stream_ == nullptr) {
      absl::Status st = OpenKeepAliveStream();
      if (!st.ok()) return st;
    }
    lockpb::LeaseKeepAliveRequest req;
    req.set_id(session);
    lockpb::LeaseKeepAliveResponse resp;
    if (!stream_->Write(req) || !stream_->Read(&resp)) {
      CloseKeepAliveStream();
      stream_broke_ = true;
      return absl::UnavailableError("lease keepalive stream broke");
    }
    if (resp.ttl() <= 0) {
      return absl::NotFoundError(absl::StrCat("lease ", session, " expired"));
    }
    return absl::OkStatus();
  }

  absl::Status CloseSession(int64_t session) override {
    return client_->RevokeLease(session);
  }

  absl::StatusOr<std::unique_ptr<BenchWatch>> Watch(
      absl::string_view prefix, WatchEventFn on_event) override {
    lock::WatchOptions opts;
    opts.prefix = true;
    auto w = lock::Watch::Start(
        client_, std::string(prefix), opts,
        [on_event = std::move(on_event)](absl::StatusOr<lock::WatchBatch> b) {
          if (!b.ok()) {
            on_event(b.status());
            return;
          }
          for (const lock::WatchEvent& e : b->events) {
            if (e.type == lock::WatchEvent::Type::kPut) on_event(e.kv.value);
          }
        });
    if (!w.ok()) return w.status();
    return std::make_unique<BerthWatch>(*std::move(w));
  }

 private:
  absl::Status OpenKeepAliveStream() {
    // After a broken stream the cached leader may be the one that just
    // lost office: ask the cluster instead.
    std::string leader = stream_broke_ ? "" : client_->leader();
    stream_broke_ = false;
    if (leader.empty()) {
      auto st = client_->Status();
      if (!st.ok()) return st.status();
      leader = st->leader_addr;
    }
    if (leader.empty()) return absl::UnavailableError("no lockd leader known");
    lease_stub_ =
        lockpb::Lease::NewStub(grpc::CreateChannel(leader, credentials_));
    stream_ctx_ = std::make_unique<grpc::ClientContext>();
    stream_ = lease_stub_->LeaseKeepAlive(stream_ctx_.get());
    return absl::OkStatus();
  }
  void CloseKeepAliveStream() {
    if (stream_ == nullptr) return;
    stream_ctx_->TryCancel();
    (void)stream_->Finish();
    stream_.reset();
    stream_ctx_.reset();
  }

  std::unique_ptr<lock::Client> owned_;
  lock::Client* client_;
  // The keep-alive stream dials the leader itself, with the client's TLS.
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::unique_ptr<lockpb::Lease::Stub> lease_stub_;
  bool stream_broke_ = false;
  std::unique_ptr<grpc::ClientContext> stream_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<lockpb::LeaseKeepAliveRequest,
                                           lockpb::LeaseKeepAliveResponse>>
      stream_;
  std::unique_ptr<lock::Session> session_;
  std::unique_ptr<lock::Mutex> mutex_;
};

class BerthTarget : public BenchTarget {
 public:
  explicit BerthTarget(BerthTargetOptions options)
      : options_(std::move(options)) {}

  absl::Status Init() {
    if (!options_.shared_client) return absl::OkStatus();
    auto c = Connect();
    if (!c.ok()) return c.status();
    shared_ = *std::move(c);
    return absl::OkStatus();
  }

  std::string name() const override { return "berth"; }

  absl::StatusOr<std::unique_ptr<BenchClient>> NewClient() override {
    if (shared_) {
      return std::make_unique<BerthClient>(nullptr, shared_.get(),
                                           options_.credentials);
    }
    auto c = Connect();
    if (!c.ok()) return c.status();
    return std::make_unique<BerthClient>(*std::move(c), nullptr,
                                         options_.credentials);
  }

 private:
  absl::StatusOr<std::unique_ptr<lock::Client>> Connect() {
    lock::ClientOptions o;
    o.request_timeout = options_.request_timeout;
    o.attempt_timeout = std::min(options_.request_timeout, absl::Seconds(5));
    o.dial_timeout = std::min(options_.request_timeout, absl::Seconds(2));
    o.credentials = options_.credentials;
    return lock::Client::Connect(options_.endpoints, o);
  }

  BerthTargetOptions options_;
  std::unique_ptr<lock::Client> shared_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BenchTarget>> NewBerthTarget(
    BerthTargetOptions options) {
  auto t = std::make_unique<BerthTarget>(std::move(options));
  absl::Status st = t->Init();
  if (!st.ok()) return st;
  return t;
}

}  // namespace berth::cli
