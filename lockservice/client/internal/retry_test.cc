#include "lockservice/client/internal/retry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"

namespace berth::lock::internal {
namespace {

using ::testing::HasSubstr;

grpc::Status Err(grpc::StatusCode code, const char* msg) {
  return grpc::Status(code, msg);
}

TEST(ClassifyTest, OkAndApplicationErrorsAreReturned) {
  for (auto code : {grpc::StatusCode::OK, grpc::StatusCode::INVALID_ARGUMENT,
                    grpc::StatusCode::NOT_FOUND, grpc::StatusCode::INTERNAL,
                    grpc::StatusCode::CANCELLED}) {
    for (auto idem : {Idempotency::kIdempotent, Idempotency::kNonIdempotent,
                      Idempotency::kDeduplicated}) {
      EXPECT_EQ(Classify(Err(code, "x"), idem, true).verdict, Verdict::kReturn);
    }
  }
}

TEST(ClassifyTest, StaleTokenIsNotARedirect) {
  EXPECT_EQ(Classify(Err(grpc::StatusCode::FAILED_PRECONDITION,
                         "stale fencing token 4, current 9"),
                     Idempotency::kNonIdempotent, true)
                .verdict,
            Verdict::kReturn);
}

TEST(ClassifyTest, NotLeaderRedirectsEvenWrites) {
  for (auto code :
       {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::FAILED_PRECONDITION}) {
    Classification c = Classify(Err(code, "not leader; leader=2@h:7401"),
                                Idempotency::kNonIdempotent, true);
    EXPECT_EQ(c.verdict, Verdict::kRedirect);
    ASSERT_TRUE(c.hint.has_value());
    EXPECT_EQ(c.hint->addr, "h:7401");
  }
}

TEST(ClassifyTest, UnreachableIsRetriedWhenNothingWasSent) {
  EXPECT_EQ(Classify(Err(grpc::StatusCode::UNAVAILABLE, "refused"),
                     Idempotency::kNonIdempotent, /*maybe_sent=*/false)
                .verdict,
            Verdict::kRetry);
}

TEST(ClassifyTest, BrokenWriteHasUnknownOutcome) {
  for (auto code :
       {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED}) {
    EXPECT_EQ(
        Classify(Err(code, "reset"), Idempotency::kNonIdempotent, true).verdict,
        Verdict::kOutcomeUnknown);
  }
}

TEST(ClassifyTest, BrokenDeduplicatedWriteIsRetried) {
  // The servers answer a repeated WriteId with the first answer.
  for (auto code :
       {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED}) {
    EXPECT_EQ(
        Classify(Err(code, "reset"), Idempotency::kDeduplicated, true).verdict,
        Verdict::kRetry);
  }
}

TEST(ClassifyTest, BrokenReadIsRetried) {
  for (auto code :
       {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED}) {
    EXPECT_EQ(
        Classify(Err(code, "reset"), Idempotency::kIdempotent, true).verdict,
        Verdict::kRetry);
  }
}

TEST(OutcomeUnknownTest, DetectableAndExplained) {
  absl::Status s = OutcomeUnknownError(
      Err(grpc::StatusCode::UNAVAILABLE, "socket closed"), "put", "h:1");
  EXPECT_TRUE(IsOutcomeUnknown(s));
  EXPECT_THAT(s.message(), HasSubstr("may or may not"));
  EXPECT_THAT(s.message(), HasSubstr("socket closed"));
  EXPECT_FALSE(IsOutcomeUnknown(absl::UnknownError("other")));
  EXPECT_FALSE(IsOutcomeUnknown(
      FromGrpc(Err(grpc::StatusCode::UNAVAILABLE, "x"), "put", "h:1")));
}

TEST(FromGrpcTest, KeepsCodeAndNamesCallAndReplica) {
  absl::Status s =
      FromGrpc(Err(grpc::StatusCode::NOT_FOUND, "no lease 5"), "ttl", "h:9");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("ttl"));
  EXPECT_THAT(s.message(), HasSubstr("h:9"));
  EXPECT_THAT(s.message(), HasSubstr("no lease 5"));
}

TEST(BackoffTest, GrowsThenStaysWithinCap) {
  const absl::Duration initial = absl::Milliseconds(10);
  const absl::Duration max = absl::Milliseconds(300);
  Backoff lo(initial, max, [] { return 0.0; });
  Backoff hi(initial, max, [] { return 0.999; });
  absl::Duration prev_lo = absl::ZeroDuration();
  for (int i = 0; i < 40; ++i) {
    absl::Duration a = lo.Next();
    absl::Duration b = hi.Next();
    EXPECT_GT(a, absl::ZeroDuration());
    EXPECT_LE(a, b);
    EXPECT_LE(b, max);
    EXPECT_GE(a, prev_lo);  // never shrinks before Reset
    prev_lo = a;
  }
  EXPECT_GE(prev_lo, max / 2);  // reached the cap
  lo.Reset();
  EXPECT_LT(lo.Next(), prev_lo);
}

TEST(BackoffTest, JitterStaysInUpperHalfOfCeiling) {
  double u = 0.0;
  Backoff b(absl::Milliseconds(8), absl::Seconds(1), [&] { return u; });
  for (int i = 0; i < 10; ++i) {
    u = (i % 3) / 3.0;
    Backoff fixed_lo(absl::Milliseconds(8), absl::Seconds(1),
                     [] { return 0.0; });
    for (int j = 0; j < i; ++j) fixed_lo.Next();
    absl::Duration floor = fixed_lo.Next();
    absl::Duration got = b.Next();
    EXPECT_GE(got, floor);
    EXPECT_LE(got, floor * 2);
  }
}

}  // namespace
}  // namespace berth::lock::internal
