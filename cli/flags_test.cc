#include "cli/flags.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

TEST(ParseDurationFlagTest, AcceptsUnits) {
  EXPECT_EQ(*ParseDurationFlag("--ttl", "10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseDurationFlag("--ttl", "500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDurationFlag("--ttl", "2m"), absl::Minutes(2));
  EXPECT_EQ(*ParseDurationFlag("--ttl", "1h30m"), absl::Minutes(90));
}

TEST(ParseDurationFlagTest, RejectsWithFlagValueAndExample) {
  for (const char* bad :
       {"", "10", "0", "10x", "-5s", "+5s", "inf", "s", "1.5", "0s", "10s "}) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag("--timeout", bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(d.status().message(), HasSubstr("--timeout"));
    EXPECT_THAT(d.status().message(), HasSubstr(absl::StrCat("\"", bad, "\"")));
  }
  EXPECT_THAT(ParseDurationFlag("--timeout", "10").status().message(),
              HasSubstr("unit"));
}

TEST(ParseTtlFlagTest, WholeSecondsOnly) {
  EXPECT_EQ(*ParseTtlFlag("--ttl", "2m"), absl::Seconds(120));
  EXPECT_THAT(ParseTtlFlag("--ttl", "1500ms").status().message(),
              HasSubstr("whole number of seconds"));
  EXPECT_THAT(ParseTtlFlag("--ttl", "500ms").status().message(),
              HasSubstr("at least 1s"));
}

TEST(ParseLeaseIdTest, DecimalAndHex) {
  EXPECT_EQ(*ParseLeaseId("ID", "42"), 42);
  EXPECT_EQ(*ParseLeaseId("ID", "0x2a"), 42);
  EXPECT_EQ(*ParseLeaseId("ID", "0X2A"), 42);
}

TEST(ParseLeaseIdTest, RejectsZeroNegativeGarbageAndOverflow) {
  for (const char* bad :
       {"", "0", "-1", "abc", "0x", "12z", "0x8000000000000000", " 1"}) {
    absl::StatusOr<int64_t> id = ParseLeaseId("ID", bad);
    ASSERT_FALSE(id.ok()) << bad;
    EXPECT_THAT(id.status().message(), HasSubstr("lease id")) << bad;
  }
}

TEST(ParseMemberIdTest, FullUnsignedRange) {
  EXPECT_EQ(*ParseMemberId("ID", "0xffffffffffffffff"),
            std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(ParseMemberId("ID", "18446744073709551616").ok());
}

TEST(ParseCountTest, NonNegativeIntegers) {
  EXPECT_EQ(*ParseCount("--rev", "0"), 0);
  EXPECT_EQ(*ParseCount("--rev", "123"), 123);
  for (const char* bad : {"", "-1", "1e3", "12a", "99999999999999999999"}) {
    EXPECT_THAT(ParseCount("--rev", bad).status().message(),
                HasSubstr("non-negative integer"))
        << bad;
  }
}

}  // namespace
}  // namespace berth::cli
