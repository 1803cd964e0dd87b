// Retry policy: which failed attempts may be repeated, and how long to wait
// between attempts. Pure logic, so that it is unit-tested without a server.
//
// Thread safety: Classify is stateless. A Backoff belongs to one call loop
// and is not thread-safe.
#ifndef BERTH_LOCKSERVICE_CLIENT_INTERNAL_RETRY_H_
#define BERTH_LOCKSERVICE_CLIENT_INTERNAL_RETRY_H_

#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "lockservice/client/internal/endpoints.h"

namespace berth::lock::internal {

enum class Idempotency {
  // Repeating the call has no effect beyond the first (reads, keepalives).
  kIdempotent,
  // Repeating it could apply it twice (lock requests, lease grants).
  kNonIdempotent,
  // A write carrying a WriteId: the servers answer a repeat with the first
  // answer, so it is retried like an idempotent call. Only when the whole
  // call gives up after an attempt that may have been applied is the
  // outcome unknown.
  kDeduplicated,
};

enum class Verdict {
  kReturn,          // hand the status to the caller as is
  kRedirect,        // not executed; go to hint->addr (or rediscover)
  kRetry,           // not executed, or safe to repeat; try again elsewhere
  kOutcomeUnknown,  // a write may or may not have been applied
};

struct Classification {
  Verdict verdict = Verdict::kReturn;
  // Set for kRedirect; addr is empty when the replica knows no leader.
  std::optional<LeaderHint> hint;
};

// `maybe_sent` is false only when the client knows the request never left
// (it could not connect to the replica at all).
Classification Classify(const grpc::Status& status, Idempotency idempotency,
                        bool maybe_sent);

// Exponential backoff with full jitter, bounded by `max`.
class Backoff {
 public:
  // `uniform01` returns values in [0, 1); tests pass a fixed source.
  Backoff(absl::Duration initial, absl::Duration max,
          std::function<double()> uniform01);

  absl::Duration Next();
  void Reset() { attempt_ = 0; }

 private:
  absl::Duration initial_;
  absl::Duration max_;
  std::function<double()> uniform01_;
  int attempt_ = 0;
};

// Converts a gRPC status to absl, naming what was attempted and where.
absl::Status FromGrpc(const grpc::Status& status, absl::string_view what,
                      absl::string_view addr);

// The error for kOutcomeUnknown; IsOutcomeUnknown() in client.h detects it.
absl::Status OutcomeUnknownError(const grpc::Status& status,
                                 absl::string_view what,
                                 absl::string_view addr);

inline constexpr absl::string_view kOutcomeUnknownPayload =
    "type.berth.dev/lock.OutcomeUnknown";

}  // namespace berth::lock::internal

#endif  // BERTH_LOCKSERVICE_CLIENT_INTERNAL_RETRY_H_
