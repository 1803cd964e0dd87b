// The berth-lockd BenchTarget: KV for put/get, a Session + Mutex per client
// for lock handoffs, lock::Watch for watches.
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
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"
#include "lockservice/client/watch.h"

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
  BerthClient(std::unique_ptr<lock::Client> owned, lock::Client* shared)
      : owned_(std::move(owned)), client_(owned_ ? owned_.get() : shared) {}

  ~BerthClient() override {
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
    // Bounded so that a dead cluster ends the run instead of hanging it.
    absl::Status st = mutex_->Lock(absl::Seconds(60));
    if (!st.ok()) return st;
    absl::Time granted = clock->Monotonic();
    st = mutex_->Unlock();
    if (!st.ok()) return st;
    return granted;
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
  std::unique_ptr<lock::Client> owned_;
  lock::Client* client_;
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
    if (shared_) return std::make_unique<BerthClient>(nullptr, shared_.get());
    auto c = Connect();
    if (!c.ok()) return c.status();
    return std::make_unique<BerthClient>(*std::move(c), nullptr);
  }

 private:
  absl::StatusOr<std::unique_ptr<lock::Client>> Connect() {
    lock::ClientOptions o;
    o.request_timeout = options_.request_timeout;
    o.attempt_timeout = std::min(options_.request_timeout, absl::Seconds(5));
    o.dial_timeout = std::min(options_.request_timeout, absl::Seconds(2));
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
