// The etcd BenchTarget: etcd's v3 gRPC API through our own wire-compatible
// protos (proto/etcd/). Each BenchClient has its own channel to one member,
// members taken round-robin (as etcd's clientv3 balances); followers forward
// writes and linearizable reads to the leader themselves.
//
//   put / get      KV.Put / KV.Range (serializable on request);
//   cas            KV.Range for the key's mod_revision, then a KV.Txn that
//                  puts only if mod_revision is unchanged;
//   lock           v3lock Lock/Unlock with a per-client lease;
//   sessions       LeaseGrant, then LeaseKeepAlive on one stream per client;
//   watch          one Watch stream per client carrying all its watchers.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cli/commands/bench_target.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "proto/etcd/rpc.grpc.pb.h"
#include "proto/etcd/v3lock.grpc.pb.h"

namespace berth::cli {

namespace {

namespace epb = ::etcdserverpb;

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("etcd ", what, ": ", s.error_message()));
}

// The end of the key range [prefix, end) that holds every key starting
// with `prefix` (etcd's "prefix" convention).
std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(end.back() + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

// One Watch stream shared by a client's watchers. Events are delivered on
// the reader thread while `mu_` is held, so Remove() is a barrier: once it
// returns, that watcher's callback never runs again.
class WatchHub {
 public:
  explicit WatchHub(epb::Watch::Stub* stub) {
    stream_ = stub->Watch(&ctx_);
    reader_ = std::thread([this] { ReadLoop(); });
  }
  ~WatchHub() {
    ctx_.TryCancel();
    reader_.join();
    (void)stream_->Finish();
  }

  absl::StatusOr<int64_t> Add(absl::string_view prefix, WatchEventFn fn) {
    absl::MutexLock create(&create_mu_);  // one create in flight
    epb::WatchRequest req;
    req.mutable_create_request()->set_key(std::string(prefix));
    req.mutable_create_request()->set_range_end(PrefixEnd(prefix));
    {
      absl::MutexLock l(&mu_);
      pending_fn_ = std::move(fn);
      created_id_ = -1;
    }
    if (!stream_->Write(req)) {
      return absl::UnavailableError("etcd watch stream closed");
    }
    absl::MutexLock l(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return created_id_ >= 0 || broken_;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30)) ||
        broken_) {
      return absl::UnavailableError("etcd watch was not created");
    }
    return created_id_;
  }

  void Remove(int64_t id) {
    absl::MutexLock l(&mu_);
    fns_.erase(id);
  }

 private:
  void ReadLoop() {
    epb::WatchResponse resp;
    while (stream_->Read(&resp)) {
      absl::MutexLock l(&mu_);
      if (resp.created()) {
        fns_[resp.watch_id()] = std::move(pending_fn_);
        created_id_ = resp.watch_id();
        continue;
      }
      auto it = fns_.find(resp.watch_id());
      if (it == fns_.end()) continue;
      if (resp.canceled()) {
        it->second(absl::AbortedError(
            absl::StrCat("etcd canceled the watch: ", resp.cancel_reason())));
        fns_.erase(it);
        continue;
      }
      for (const mvccpb::Event& e : resp.events()) {
        if (e.type() == mvccpb::Event::PUT) it->second(e.kv().value());
      }
    }
    absl::MutexLock l(&mu_);
    broken_ = true;
  }

  grpc::ClientContext ctx_;
  std::unique_ptr<
      grpc::ClientReaderWriter<epb::WatchRequest, epb::WatchResponse>>
      stream_;
  absl::Mutex create_mu_;
  absl::Mutex mu_;
  WatchEventFn pending_fn_ ABSL_GUARDED_BY(mu_);
  int64_t created_id_ ABSL_GUARDED_BY(mu_) = -1;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  std::map<int64_t, WatchEventFn> fns_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

class EtcdWatch : public BenchWatch {
 public:
  EtcdWatch(WatchHub* hub, int64_t id) : hub_(hub), id_(id) {}
  ~EtcdWatch() override { hub_->Remove(id_); }

 private:
  WatchHub* hub_;
  int64_t id_;
};

class EtcdClient : public BenchClient {
 public:
  EtcdClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
      : kv_(epb::KV::NewStub(channel)),
        lease_(epb::Lease::NewStub(channel)),
        watch_(epb::Watch::NewStub(channel)),
        lock_(v3lockpb::Lock::NewStub(channel)),
        timeout_(timeout) {}

  ~EtcdClient() override {
    hub_.reset();
    CloseKeepAliveStream();
    if (lock_lease_ != 0) CloseSession(lock_lease_).IgnoreError();
  }

  absl::Status Put(absl::string_view key, absl::string_view value) override {
    epb::PutRequest req;
    req.set_key(std::string(key));
    req.set_value(std::string(value));
    epb::PutResponse resp;
    auto ctx = Ctx();
    return FromGrpc(kv_->Put(ctx.get(), req, &resp), "put");
  }

  absl::Status Get(absl::string_view key, bool serializable) override {
    return Range(key, serializable).status();
  }

  absl::StatusOr<bool> CompareAndSwap(absl::string_view key,
                                      absl::string_view value) override {
    auto cur = Range(key, false);
    if (!cur.ok()) return cur.status();
    const int64_t rev = cur->kvs_size() > 0 ? cur->kvs(0).mod_revision() : 0;
    epb::TxnRequest req;
    epb::Compare* c = req.add_compare();
    c->set_key(std::string(key));
    c->set_target(epb::Compare::MOD);
    c->set_result(epb::Compare::EQUAL);
    c->set_mod_revision(rev);
    epb::PutRequest* put = req.add_success()->mutable_request_put();
    put->set_key(std::string(key));
    put->set_value(std::string(value));
    epb::TxnResponse resp;
    auto ctx = Ctx();
    absl::Status st = FromGrpc(kv_->Txn(ctx.get(), req, &resp), "txn");
    if (!st.ok()) return st;
    return resp.succeeded();
  }

  absl::StatusOr<absl::Time> LockHandoff(absl::string_view name,
                                         Clock* clock) override {
    if (lock_lease_ == 0) {
      // Long enough that the lease outlives any run without keepalives.
      auto id = OpenSession(absl::Seconds(300));
      if (!id.ok()) return id.status();
      lock_lease_ = *id;
    }
    v3lockpb::LockRequest req;
    req.set_name(std::string(name));
    req.set_lease(lock_lease_);
    v3lockpb::LockResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    absl::Status st = FromGrpc(lock_->Lock(&ctx, req, &resp), "lock");
    if (!st.ok()) return st;
    const absl::Time granted = clock->Monotonic();
    v3lockpb::UnlockRequest unlock;
    unlock.set_key(resp.key());
    v3lockpb::UnlockResponse unlocked;
    auto uctx = Ctx();
    st = FromGrpc(lock_->Unlock(uctx.get(), unlock, &unlocked), "unlock");
    if (!st.ok()) return st;
    return granted;
  }

  absl::StatusOr<std::unique_ptr<BenchWatch>> Watch(
      absl::string_view prefix, WatchEventFn on_event) override {
    if (hub_ == nullptr) hub_ = std::make_unique<WatchHub>(watch_.get());
    auto id = hub_->Add(prefix, std::move(on_event));
    if (!id.ok()) return id.status();
    return std::make_unique<EtcdWatch>(hub_.get(), *id);
  }

  absl::StatusOr<int64_t> OpenSession(absl::Duration ttl) override {
    epb::LeaseGrantRequest req;
    req.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(ttl)));
    epb::LeaseGrantResponse resp;
    auto ctx = Ctx();
    absl::Status st =
        FromGrpc(lease_->LeaseGrant(ctx.get(), req, &resp), "lease grant");
    if (!st.ok()) return st;
    if (!resp.error().empty()) {
      return absl::UnavailableError(
          absl::StrCat("etcd lease grant: ", resp.error()));
    }
    return resp.id();
  }

  absl::Status KeepAlive(int64_t session) override {
    if (ka_stream_ == nullptr) {
      ka_ctx_ = std::make_unique<grpc::ClientContext>();
      ka_stream_ = lease_->LeaseKeepAlive(ka_ctx_.get());
    }
    epb::LeaseKeepAliveRequest req;
    req.set_id(session);
    epb::LeaseKeepAliveResponse resp;
    if (!ka_stream_->Write(req) || !ka_stream_->Read(&resp)) {
      CloseKeepAliveStream();
      return absl::UnavailableError("etcd lease keepalive stream broke");
    }
    if (resp.ttl() <= 0) {
      return absl::NotFoundError(absl::StrCat("lease ", session, " expired"));
    }
    return absl::OkStatus();
  }

  absl::Status CloseSession(int64_t session) override {
    epb::LeaseRevokeRequest req;
    req.set_id(session);
    epb::LeaseRevokeResponse resp;
    auto ctx = Ctx();
    return FromGrpc(lease_->LeaseRevoke(ctx.get(), req, &resp), "lease revoke");
  }

 private:
  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    return ctx;
  }

  absl::StatusOr<epb::RangeResponse> Range(absl::string_view key,
                                           bool serializable) {
    epb::RangeRequest req;
    req.set_key(std::string(key));
    req.set_serializable(serializable);
    epb::RangeResponse resp;
    auto ctx = Ctx();
    absl::Status st = FromGrpc(kv_->Range(ctx.get(), req, &resp), "range");
    if (!st.ok()) return st;
    return resp;
  }

  void CloseKeepAliveStream() {
    if (ka_stream_ == nullptr) return;
    ka_ctx_->TryCancel();
    (void)ka_stream_->Finish();
    ka_stream_.reset();
    ka_ctx_.reset();
  }

  std::unique_ptr<epb::KV::Stub> kv_;
  std::unique_ptr<epb::Lease::Stub> lease_;
  std::unique_ptr<epb::Watch::Stub> watch_;
  std::unique_ptr<v3lockpb::Lock::Stub> lock_;
  const absl::Duration timeout_;
  int64_t lock_lease_ = 0;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<grpc::ClientContext> ka_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<epb::LeaseKeepAliveRequest,
                                           epb::LeaseKeepAliveResponse>>
      ka_stream_;
};

class EtcdTarget : public BenchTarget {
 public:
  explicit EtcdTarget(PeerTargetOptions options)
      : options_(std::move(options)) {}

  std::string name() const override { return "etcd"; }

  absl::StatusOr<std::unique_ptr<BenchClient>> NewClient() override {
    const std::string& ep =
        options_.endpoints[next_.fetch_add(1) % options_.endpoints.size()];
    return std::make_unique<EtcdClient>(
        grpc::CreateChannel(ep, options_.credentials
                                    ? options_.credentials
                                    : grpc::InsecureChannelCredentials()),
        options_.request_timeout);
  }

 private:
  PeerTargetOptions options_;
  std::atomic<size_t> next_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<BenchTarget>> NewEtcdTarget(
    PeerTargetOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError(
        "--target etcd needs --endpoints (e.g. 127.0.0.1:23790)");
  }
  return std::make_unique<EtcdTarget>(std::move(options));
}

}  // namespace berth::cli
