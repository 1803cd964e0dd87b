// Watch: a stream of changes to a key or a key range, from a revision on.
//
// The watch survives replica failure and failover: it reconnects and
// resumes from the revision after the last one it delivered, so no event is
// lost or repeated. It ends only when the caller cancels it or the server
// ends it for good; the last item it delivers then is the reason:
//   OUT_OF_RANGE  the start revision was compacted away
//                 (compact_revision() is the oldest still available);
//   CANCELLED     the server canceled the watch (the message has its reason);
//   other codes   the server rejected the request (e.g. INVALID_ARGUMENT).
//
// All watches of one Client share one gRPC stream (watch ids multiplexed on
// it, as etcd clients do), so a thousand watches cost one stream and one
// thread, not a thousand of each. Alike watches (same key, range and
// prev_kv) that start from now also share one server-side watch, so the
// server sends each change once per Client; such a watch may also see a
// change committed a moment before it started, never fewer changes.
//
// Two ways to consume it: a callback or, without a callback, the blocking
// Next(). Callbacks run on the Client's watch-stream thread, one call at a
// time across all of the Client's watches: a callback that blocks delays
// the Client's other watches, so hand long work to another thread.
//
// Thread safety: all methods are thread-safe. Ownership: the Watch borrows
// the Client, which must outlive it. Destruction cancels the watch and
// waits for a running callback of it to return; do not destroy a Watch from
// its own callback (Cancel() from it is fine).
#ifndef BERTH_LOCKSERVICE_CLIENT_WATCH_H_
#define BERTH_LOCKSERVICE_CLIENT_WATCH_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lockservice/client/kv.h"

namespace berth::lockpb {
class WatchCreateRequest;
class WatchResponse;
}  // namespace berth::lockpb

namespace berth::lock {

class Client;
namespace internal {
class WatchMux;
enum class WatchVerdict : int;
}  // namespace internal

struct WatchOptions {
  // Watch every key starting with the key (ignores range_end).
  bool prefix = false;
  std::string range_end;
  // First revision to deliver; 0 = changes after the watch starts.
  int64_t start_revision = 0;
  bool prev_kv = false;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // For kDelete: the key, and mod_revision is the delete's revision.
  KeyValue kv;
  std::optional<KeyValue> prev_kv;  // only with WatchOptions::prev_kv
};

struct WatchBatch {
  int64_t revision = 0;  // store revision when the batch was sent
  std::vector<WatchEvent> events;
};

class Watch {
 public:
  // Called with each batch, and finally with the terminal error (if any).
  using Callback = std::function<void(absl::StatusOr<WatchBatch>)>;

  // Without a callback, batches queue up for Next().
  static absl::StatusOr<std::unique_ptr<Watch>> Start(
      Client* client, std::string key, WatchOptions options = {},
      Callback callback = nullptr);
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // The next batch; nullopt if none came within `timeout`; the terminal
  // error once the watch has ended (repeatedly). Only without a callback.
  absl::StatusOr<std::optional<WatchBatch>> Next(absl::Duration timeout);

  // Stops the watch; Next() then returns CANCELLED.
  void Cancel();

  // The revision a resumed stream would start from.
  int64_t next_revision() const;
  // Oldest revision still available, once the watch ended as compacted.
  int64_t compact_revision() const;

 private:
  Watch(Client* client, std::string key, std::string range_end,
        WatchOptions options, Callback callback);

  // Handlers the Client's WatchMux calls on its thread.
  lockpb::WatchCreateRequest CreateRequest();
  internal::WatchVerdict OnResponse(const lockpb::WatchResponse& resp);
  void End(absl::Status status);

  void Deliver(absl::StatusOr<WatchBatch> item);

  Client* const client_;
  internal::WatchMux* const mux_;  // the client's
  const std::string key_;
  const std::string range_end_;
  const WatchOptions options_;
  const Callback callback_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status terminal_ ABSL_GUARDED_BY(mu_);
  std::deque<WatchBatch> queue_ ABSL_GUARDED_BY(mu_);
  int64_t next_revision_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t compact_revision_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t id_ = 0;  // in mux_; set once by Start
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_CLIENT_WATCH_H_
