#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "scheduler/server/audit_log.h"

namespace berth::sched {
namespace {

const absl::Time kT = absl::FromUnixMillis(1764979200123);  // 2025-12-06

// Newest first: one limited Range from the prefix gives the latest records.
TEST(AuditKeyTest, NewerRecordsSortFirst) {
  EXPECT_LT(AuditKey(kT + absl::Milliseconds(1), "s1", 0),
            AuditKey(kT, "s1", 0));
  EXPECT_LT(AuditKey(kT + absl::Hours(24 * 365), "s2", 9),
            AuditKey(kT, "s1", 0));
  EXPECT_EQ(AuditKey(kT, "s1", 7).rfind(kAuditPrefix, 0), 0u);
}

TEST(AuditKeyTest, SameMillisecondKeysAreDistinct) {
  EXPECT_NE(AuditKey(kT, "s1", 1), AuditKey(kT, "s1", 2));
  EXPECT_NE(AuditKey(kT, "s1", 1), AuditKey(kT, "s2", 1));
}

// List(since) ends its Range at the bound of one ms before `since`: the
// records of `since`'s own millisecond are in, older ones out.
TEST(AuditKeyTest, BoundSplitsByTime) {
  const std::string end = AuditKeyBound(kT - absl::Milliseconds(1));
  EXPECT_LT(AuditKey(kT, "s9", 99), end);
  EXPECT_GE(AuditKey(kT - absl::Milliseconds(1), "s1", 0), end);
  // Trimming deletes [bound(cutoff), end): the cutoff's records and older.
  const std::string cutoff = AuditKeyBound(kT);
  EXPECT_GE(AuditKey(kT, "s1", 0), cutoff);
  EXPECT_LT(AuditKey(kT + absl::Milliseconds(1), "s1", 0), cutoff);
}

TEST(AuditKeyTest, TimesOutsideTheKeyRangeClamp) {
  EXPECT_EQ(AuditKeyBound(absl::InfinitePast()),
            AuditKeyBound(absl::UnixEpoch()));
  EXPECT_LT(AuditKeyBound(absl::InfiniteFuture()),
            AuditKeyBound(absl::UnixEpoch()));
}

}  // namespace
}  // namespace berth::sched
