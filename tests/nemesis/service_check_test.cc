#include "tests/nemesis/service_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::nemesis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::Time At(int s) { return absl::FromUnixSeconds(1700000000 + s); }

TEST(ServiceCheckTest, OneAllocationThenItsReplacementPasses) {
  // a1 dies, a gap, then a2: never two at once, running at the end.
  std::vector<ServiceSample> s = {
      {At(0), {"a1"}}, {At(1), {}}, {At(2), {"a2"}}, {At(10), {"a2"}}};
  ServiceVerdict v = CheckService(s, 1, At(5));
  EXPECT_THAT(v.violations, IsEmpty());
  EXPECT_EQ(v.allocs_seen, 2);
  EXPECT_EQ(v.max_running, 1);
  EXPECT_EQ(v.samples_short, 1);
}

TEST(ServiceCheckTest, TwoRunningAtOnceIsOneViolationPerOverlap) {
  std::vector<ServiceSample> s = {{At(0), {"a1"}},
                                  {At(1), {"a1", "a2"}},
                                  {At(2), {"a1", "a2"}},
                                  {At(3), {"a2"}},
                                  {At(10), {"a2"}}};
  ServiceVerdict v = CheckService(s, 1, At(5));
  EXPECT_EQ(v.max_running, 2);
  EXPECT_THAT(v.violations,
              ElementsAre(HasSubstr("2 allocations running at once")));
}

TEST(ServiceCheckTest, TwoReplicasMayRunTwoInTwoSlots) {
  std::vector<ServiceSample> s = {{At(0), {"d.svc.0.1", "d.svc.1.1"}},
                                  {At(10), {"d.svc.0.1", "d.svc.1.2"}}};
  EXPECT_THAT(CheckService(s, 2, At(5)).violations, IsEmpty());
}

TEST(ServiceCheckTest, OneSlotTwiceIsAViolationEvenUnderTheReplicaCount) {
  std::vector<ServiceSample> s = {{At(0), {"d.svc.0.1", "d.svc.1.1"}},
                                  {At(1), {"d.svc.0.1", "d.svc.0.2"}},
                                  {At(10), {"d.svc.0.2", "d.svc.1.3"}}};
  EXPECT_THAT(CheckService(s, 2, At(5)).violations,
              ElementsAre(HasSubstr("one slot running twice at")));
}

TEST(ServiceCheckTest, NotRunningAfterTheHealIsAViolation) {
  std::vector<ServiceSample> s = {{At(0), {"a1"}}, {At(6), {}}, {At(10), {}}};
  EXPECT_THAT(CheckService(s, 1, At(5)).violations,
              ElementsAre(HasSubstr("never ran 1 allocations")));
}

TEST(ServiceCheckTest, StoppedAgainBeforeTheEndIsAViolation) {
  std::vector<ServiceSample> s = {{At(6), {"a1"}}, {At(10), {}}};
  EXPECT_THAT(CheckService(s, 1, At(5)).violations,
              ElementsAre(HasSubstr("at the last sample")));
}

}  // namespace
}  // namespace berth::nemesis
