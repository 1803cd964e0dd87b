// KeepAliveMux: every Session of one Client renews its lease over one
// shared LeaseKeepAlive stream, the way the Client's watches share one
// Watch stream. A process that holds many sessions (berth-agent-swarm runs
// a thousand agents) then keeps one stream and one thread busy instead of a
// stream and a thread per session.
//
// Each registered lease is renewed every ttl/3 on its own schedule. The
// server answers the requests of one stream in order, so the mux matches
// responses to requests by position (a FIFO of requests in flight). The
// mux decides that a lease is lost when the server reports it gone (ttl 0,
// or a NOT_FOUND ending the stream while its request was the oldest in
// flight) or when its TTL passes without a successful renewal. A replica
// that stops answering (frozen, partitioned) is detected when neither the
// oldest request in flight nor any other has been answered for half of
// that lease's remaining life; the mux then hangs up and reconnects, to the
// leader if known. (A long queue behind a busy leader is slow, not stuck:
// the clock restarts with every answer.) Requests are written as they fall
// due, never waiting for earlier answers: lockd renews every request that
// reached it during one barrier round in the next round
// (lockd/keepalive_stream.h), so one stream keeps up with many leases.
// Leases whose request went unanswered are renewed at once on the new
// stream, the others on their schedule.
//
// The stream exists only while at least one lease is registered; the mux
// thread starts with the first Add and ends with the mux.
//
// A replica that is not the leader ends the stream naming the leader
// ("not the leader; leader=ID@ADDR"): the mux tells the Router and opens the
// next stream there at once, without backoff (up to kMaxRedirectsAtOnce in
// a row without a renewal, so that replicas that disagree mid-election
// cannot bounce it in a tight loop). Time (schedule, patience, expiry,
// backoff) is read from the Client's Clock, so tests drive it.
//
// Thread safety: all methods are thread-safe. `on_renewed` runs on the
// stream's reader thread with the mux's lock held: it must only record the
// new expiry (it may take a leaf lock of its own) and never call the mux.
// `on_lost` runs once, on the mux thread, with no mux lock held; it may call
// Remove (for its own lease too). Ownership: the mux borrows the Router and
// the Clock, which must outlive it; every lease must be removed before the
// mux dies.
#ifndef BERTH_LOCKSERVICE_CLIENT_INTERNAL_KEEPALIVE_MUX_H_
#define BERTH_LOCKSERVICE_CLIENT_INTERNAL_KEEPALIVE_MUX_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace berth {
class Clock;
}  // namespace berth

namespace berth::lock::internal {

class Router;

struct KeepAliveHandlers {
  // A renewal succeeded: the lease lives until `expires_at` (counted from
  // when the keepalive was sent, so it errs early, never late).
  std::function<void(absl::Time expires_at)> on_renewed;
  // The lease is gone or expired; called once, then the lease is forgotten.
  std::function<void(const absl::Status& why)> on_lost;
};

class KeepAliveMux {
 public:
  KeepAliveMux(Router* router, Clock* clock) : router_(router), clock_(clock) {}
  // Ends the stream. Every lease must have been removed.
  ~KeepAliveMux();
  KeepAliveMux(const KeepAliveMux&) = delete;
  KeepAliveMux& operator=(const KeepAliveMux&) = delete;

  // Starts renewing `lease_id` every ttl/3, the first time at once.
  // `expires_at` is when the lease ends as far as the caller knows. Returns
  // a handle for Remove.
  int64_t Add(int64_t lease_id, absl::Duration ttl, absl::Time expires_at,
              KeepAliveHandlers handlers);
  // Stops renewing. On return no handler of this lease runs or will run,
  // unless Remove is called from its on_lost (then that call finishes).
  void Remove(int64_t handle);

 private:
  struct Entry {
    int64_t lease_id = 0;
    absl::Duration ttl;
    absl::Time expires_at;
    absl::Time next_due;
    std::optional<absl::Time> sent;  // a request is in flight since
    absl::Status lost;               // not OK: on_lost is due
    KeepAliveHandlers handlers;
  };
  // One request written on the current stream and not answered yet.
  struct InFlight {
    int64_t handle;
    int64_t lease_id;
    absl::Time sent;
    // Half of the lease's remaining life when sent: a hung stream still
    // leaves time to find the new leader.
    absl::Duration patience;
  };
  struct StreamOutcome;

  void Loop();
  // Runs one stream until it breaks, gets stuck or is no longer needed.
  void RunStream(StreamOutcome* out);
  // Reads responses of the stream of `generation` until it ends.
  template <typename Stream>
  void ReadLoop(Stream* stream, grpc::ClientContext* ctx, uint64_t generation,
                const std::string& addr);
  // Marks entries whose TTL passed as lost and calls every due on_lost.
  // Called with mu_ held; releases it while a handler runs.
  void ExpireAndDispatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The earliest expiry of any live entry (InfiniteFuture if none).
  absl::Time EarliestExpiryLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keep by_expiry_ and due_ in step with an entry: Unindex before changing
  // its expiry, due time or in-flight state, Index after.
  void IndexLocked(int64_t handle, const Entry& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnindexLocked(int64_t handle, const Entry& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records why the lease is lost (the first reason wins) and queues its
  // on_lost.
  void MarkLostLocked(int64_t handle, Entry& e, absl::Status why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Streams reopened at once in a row (after a redirect, or after a
  // replica that stopped answering) without a renewal in between.
  static constexpr int kMaxRedirectsAtOnce = 3;

  Router* const router_;
  Clock* const clock_;

  absl::Mutex mu_;
  std::map<int64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Indexes over the live (not lost) entries, so that a wake-up costs
  // O(log n) per lease it acts on rather than a scan of every lease: one
  // process of the agent swarm holds thousands, and the scans were an
  // eighth of its CPU at scale (docs/benchmarks.md, "Scale run").
  using TimedHandle = std::pair<absl::Time, int64_t>;
  std::set<TimedHandle> by_expiry_ ABSL_GUARDED_BY(mu_);
  // Entries with no request in flight, by next_due.
  std::set<TimedHandle> due_ ABSL_GUARDED_BY(mu_);
  // Lost entries whose on_lost has not run yet, oldest first.
  std::deque<int64_t> lost_ ABSL_GUARDED_BY(mu_);
  // When the writer next wakes by itself; a lease answered after this
  // is due earlier must wake it.
  absl::Time planned_wake_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  int64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  // Bumped per stream; a reader of an older stream touches nothing.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool stream_ended_ ABSL_GUARDED_BY(mu_) = false;  // its reader saw the end
  bool changed_ ABSL_GUARDED_BY(mu_) = false;     // an Add or a loss to act on
  int successes_ ABSL_GUARDED_BY(mu_) = 0;        // on the current stream
  absl::Time last_answer_ ABSL_GUARDED_BY(mu_);   // on the current stream
  std::string last_error_ ABSL_GUARDED_BY(mu_);   // of the last failed stream
  std::string stream_addr_ ABSL_GUARDED_BY(mu_);  // of the current stream
  // The handle whose on_lost runs right now (0: none).
  int64_t dispatching_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread::id thread_id_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // started by the first Add
};

}  // namespace berth::lock::internal

#endif  // BERTH_LOCKSERVICE_CLIENT_INTERNAL_KEEPALIVE_MUX_H_
