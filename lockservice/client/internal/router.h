// Router: one gRPC channel per known replica, the current leader hint, and
// the retry loop every unary call goes through.
//
// Thread safety: all methods are thread-safe; stubs are shared by callers
// (gRPC stubs are thread-safe). A Stubs pointer stays valid for the life of
// the Router, which the owning Client outlives every user of.
#ifndef BERTH_LOCKSERVICE_CLIENT_INTERNAL_ROUTER_H_
#define BERTH_LOCKSERVICE_CLIENT_INTERNAL_ROUTER_H_

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/client/client.h"
#include "lockservice/client/internal/retry.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lock::internal {

struct Stubs {
  std::string addr;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<lockpb::KV::Stub> kv;
  std::unique_ptr<lockpb::Lease::Stub> lease;
  std::unique_ptr<lockpb::Watch::Stub> watch;
  std::unique_ptr<lockpb::Lock::Stub> lock;
  std::unique_ptr<lockpb::Election::Stub> election;
  std::unique_ptr<lockpb::Cluster::Stub> cluster;
  std::unique_ptr<lockpb::Auth::Stub> auth;
};

// Per-call overrides of ClientOptions.
struct CallLimits {
  absl::Duration attempt_timeout;  // deadline of one RPC attempt
  absl::Duration overall;          // across all attempts
};

class Router {
 public:
  Router(std::vector<std::string> endpoints, const ClientOptions& options);

  const ClientOptions& options() const { return options_; }
  // ClientOptions::clock, or the real clock.
  Clock* clock() const { return clock_; }
  CallLimits DefaultLimits() const {
    return {options_.attempt_timeout, options_.request_timeout};
  }

  // The replica the next attempt should go to: the leader if known, else the
  // endpoints in turn.
  Stubs* Pick();
  Stubs* StubsFor(const std::string& addr);

  // Learns the leader and term from a response header. A header from an
  // older term than one already seen comes from a deposed leader (a reply
  // it queued before losing office, or a replica frozen and thawed): it
  // must not redirect us back there.
  void NoteHeader(const lockpb::ResponseHeader& header);
  // The highest Raft term any response has carried.
  uint64_t max_term() const;
  void NoteLeader(const std::string& addr);
  // `addr` failed to answer: forget it as leader and move to the next one.
  void NoteFailure(const std::string& addr);
  std::string leader() const;
  std::vector<std::string> endpoints() const;

  // Asks every known replica for Cluster.Status until one names a leader.
  absl::Status DiscoverLeader(absl::Time deadline);

  // True when the channel is (or becomes, before `deadline`) connected, so
  // that a failure afterwards may have happened after the request left.
  bool EnsureConnected(Stubs& stubs, absl::Time deadline);

  Backoff NewBackoff();

  // Runs `fn(stubs, context, response)` against the leader, following
  // redirects and retrying as Classify() allows until `limits.overall`.
  template <typename Resp, typename Fn>
  absl::StatusOr<Resp> Call(absl::string_view what, Idempotency idempotency,
                            Fn fn, CallLimits limits);
  template <typename Resp, typename Fn>
  absl::StatusOr<Resp> Call(absl::string_view what, Idempotency idempotency,
                            Fn fn) {
    return Call<Resp>(what, idempotency, std::move(fn), DefaultLimits());
  }

 private:
  const ClientOptions options_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  std::vector<std::string> endpoints_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  std::string leader_ ABSL_GUARDED_BY(mu_);
  uint64_t max_term_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::unique_ptr<Stubs>> stubs_ ABSL_GUARDED_BY(mu_);
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
};

template <typename Resp, typename Fn>
absl::StatusOr<Resp> Router::Call(absl::string_view what,
                                  Idempotency idempotency, Fn fn,
                                  CallLimits limits) {
  const absl::Time deadline = absl::Now() + limits.overall;
  Backoff backoff = NewBackoff();
  int attempts = 0;
  int redirects = 0;
  std::string last_error;
  // A deduplicated write that gives up after an attempt that may have been
  // applied must say so.
  bool maybe_applied = false;
  while (true) {
    Stubs* stubs = Pick();
    ++attempts;
    bool maybe_sent = true;
    grpc::Status status;
    Resp resp;
    const absl::Time now = absl::Now();
    if (idempotency != Idempotency::kIdempotent &&
        !EnsureConnected(*stubs,
                         std::min(deadline, now + options_.dial_timeout))) {
      maybe_sent = false;
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot connect");
    } else {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(
          std::min(deadline, absl::Now() + limits.attempt_timeout)));
      status = fn(*stubs, &ctx, &resp);
    }
    if (status.ok()) {
      NoteHeader(resp.header());
      return resp;
    }
    Classification c = Classify(status, idempotency, maybe_sent);
    last_error = absl::StrCat(stubs->addr, ": ", status.error_message());
    switch (c.verdict) {
      case Verdict::kReturn:
        return FromGrpc(status, what, stubs->addr);
      case Verdict::kOutcomeUnknown:
        NoteFailure(stubs->addr);
        return OutcomeUnknownError(status, what, stubs->addr);
      case Verdict::kRedirect:
        if (!c.hint->addr.empty() && c.hint->addr != stubs->addr) {
          NoteLeader(c.hint->addr);
          // Redirects cost no wait, but a cluster that keeps bouncing us
          // (mid-election) gets the same backoff as a failure.
          if (++redirects <= 3) continue;
        } else {
          NoteFailure(stubs->addr);
        }
        break;
      case Verdict::kRetry:
        NoteFailure(stubs->addr);
        if (idempotency == Idempotency::kDeduplicated && maybe_sent) {
          maybe_applied = true;
        }
        break;
    }
    absl::Duration wait = backoff.Next();
    if (absl::Now() + wait >= deadline) {
      if (maybe_applied) {
        return OutcomeUnknownError(
            grpc::Status(
                status.error_code(),
                absl::StrCat("gave up after ", attempts,
                             " attempts; last error from ", last_error)),
            what, stubs->addr);
      }
      return absl::UnavailableError(
          absl::StrCat(what, ": no lockd leader answered within ",
                       absl::FormatDuration(limits.overall), " (", attempts,
                       " attempts); last error from ", last_error));
    }
    absl::SleepFor(wait);
  }
}

}  // namespace berth::lock::internal

#endif  // BERTH_LOCKSERVICE_CLIENT_INTERNAL_ROUTER_H_
