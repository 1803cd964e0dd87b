#include "lockservice/client/internal/retry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace berth::lock::internal {

Classification Classify(const grpc::Status& status, Idempotency idempotency,
                        bool maybe_sent) {
  Classification c;
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return c;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::FAILED_PRECONDITION: {
      // A not-leader rejection happens before the request is proposed, so
      // it is safe to repeat even for writes.
      std::optional<LeaderHint> hint = ParseLeaderHint(status.error_message());
      if (hint.has_value()) {
        c.verdict = Verdict::kRedirect;
        c.hint = std::move(hint);
        return c;
      }
      if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        return c;  // a real precondition failure, e.g. a stale token
      }
      break;
    }
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      break;
    default:
      return c;
  }
  // UNAVAILABLE without a hint, or DEADLINE_EXCEEDED.
  if (!maybe_sent || idempotency != Idempotency::kNonIdempotent) {
    c.verdict = Verdict::kRetry;
  } else {
    c.verdict = Verdict::kOutcomeUnknown;
  }
  return c;
}

Backoff::Backoff(absl::Duration initial, absl::Duration max,
                 std::function<double()> uniform01)
    : initial_(initial), max_(max), uniform01_(std::move(uniform01)) {}

absl::Duration Backoff::Next() {
  // Cap the exponent: 2^20 * any sane initial is far beyond max already.
  int exponent = std::min(attempt_, 20);
  ++attempt_;
  absl::Duration ceiling = std::min(max_, initial_ * std::ldexp(1.0, exponent));
  // Half fixed, half jitter: never zero, so that a retry storm spreads out
  // without ever busy-looping.
  double u = std::clamp(uniform01_(), 0.0, 1.0);
  return ceiling / 2 + ceiling / 2 * u;
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what,
                      absl::string_view addr) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat(what, " (lockd ", addr, "): ", status.error_message()));
}

absl::Status OutcomeUnknownError(const grpc::Status& status,
                                 absl::string_view what,
                                 absl::string_view addr) {
  absl::Status s = absl::UnknownError(absl::StrCat(
      what, " (lockd ", addr,
      "): outcome unknown, the write may or may not have been applied: ",
      status.error_message()));
  s.SetPayload(kOutcomeUnknownPayload, absl::Cord("1"));
  return s;
}

}  // namespace berth::lock::internal
