#include "tests/sim/linearizability.h"

#include "gtest/gtest.h"

namespace berth::sim {
namespace {

using Verdict = LinearizabilityResult::Verdict;

Op Put(uint64_t id, std::string v, uint64_t call, uint64_t ret,
       Outcome o = Outcome::kOk) {
  return Op{.id = id,
            .client = static_cast<int>(id),
            .kind = OpKind::kPut,
            .key = "k",
            .value = std::move(v),
            .expected = "",
            .call = call,
            .ret = ret,
            .outcome = o};
}
Op Get(uint64_t id, std::string v, uint64_t call, uint64_t ret) {
  return Op{.id = id,
            .client = static_cast<int>(id),
            .kind = OpKind::kGet,
            .key = "k",
            .value = std::move(v),
            .expected = "",
            .call = call,
            .ret = ret,
            .outcome = Outcome::kOk};
}
Op Cas(uint64_t id, std::string expected, std::string v, uint64_t call,
       uint64_t ret, Outcome o) {
  return Op{.id = id,
            .client = static_cast<int>(id),
            .kind = OpKind::kCas,
            .key = "k",
            .value = std::move(v),
            .expected = std::move(expected),
            .call = call,
            .ret = ret,
            .outcome = o};
}

TEST(LinearizabilityTest, SequentialHistoryIsLinearizable) {
  History h = {Put(1, "a", 1, 2), Get(2, "a", 3, 4),
               Cas(3, "a", "b", 5, 6, Outcome::kOk), Get(4, "b", 7, 8),
               Cas(5, "a", "c", 9, 10, Outcome::kFailed)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kLinearizable);
}

TEST(LinearizabilityTest, ConcurrentOpsMayTakeEffectInEitherOrder) {
  // put(a) and put(b) overlap; a later read of "a" means b went first.
  History h = {Put(1, "a", 1, 4), Put(2, "b", 2, 3), Get(3, "a", 5, 6)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kLinearizable);
}

TEST(LinearizabilityTest, StaleReadIsAViolation) {
  // put(b) finished before the read started, yet the read saw "a".
  History h = {Put(1, "a", 1, 2), Put(2, "b", 3, 4), Get(3, "a", 5, 6)};
  LinearizabilityResult r = CheckLinearizable(h);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "k");
  EXPECT_NE(r.explanation.find("get(k)"), std::string::npos) << r.explanation;
}

TEST(LinearizabilityTest, ReadOfNeverWrittenValueIsAViolation) {
  History h = {Put(1, "a", 1, 2), Get(2, "zzz", 3, 4)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, CasSucceedingOnWrongValueIsAViolation) {
  History h = {Put(1, "a", 1, 2), Cas(2, "x", "b", 3, 4, Outcome::kOk)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, CasFailingOnMatchingValueIsAViolation) {
  History h = {Put(1, "a", 1, 2), Cas(2, "a", "b", 3, 4, Outcome::kFailed)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownWriteMayTakeEffectLongAfterItsCall) {
  // The unknown put(b) explains the later read even though the reader
  // started after a completed put(c).
  History h = {Put(1, "b", 1, kNever, Outcome::kUnknown), Put(2, "c", 2, 3),
               Get(3, "c", 4, 5), Get(4, "b", 6, 7)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kLinearizable);
}

TEST(LinearizabilityTest, UnknownWriteMayNeverTakeEffect) {
  History h = {Put(1, "a", 1, 2), Put(2, "b", 3, kNever, Outcome::kUnknown),
               Get(3, "a", 4, 5), Get(4, "a", 6, 7)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kLinearizable);
}

TEST(LinearizabilityTest, UnknownWriteCannotTakeEffectBeforeItsCall) {
  // The read of "b" finished before put(b) was even invoked.
  History h = {Get(1, "b", 1, 2), Put(2, "b", 3, kNever, Outcome::kUnknown)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownWriteTakesEffectAtMostOnce) {
  // Seeing b, then c, then b again needs put(b) to happen twice.
  History h = {Put(1, "b", 1, kNever, Outcome::kUnknown), Put(2, "c", 2, 9),
               Get(3, "b", 3, 4), Get(4, "c", 10, 11), Get(5, "b", 12, 13)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, KeysAreCheckedIndependently) {
  Op a = Put(1, "a", 1, 2);
  Op b = Get(2, "", 3, 4);
  b.key = "other";  // absent key reads as ""
  Op c = Get(3, "a", 5, 6);
  EXPECT_EQ(CheckLinearizable({a, b, c}).verdict, Verdict::kLinearizable);
  c.value = "";
  LinearizabilityResult r = CheckLinearizable({a, b, c});
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "k");
}

TEST(LinearizabilityTest, SearchBudgetIsReportedNotMistakenForAVerdict) {
  // Many concurrent unknown writes and an impossible read: exhausting the
  // tiny budget must say "gave up", not "violation".
  History h;
  for (uint64_t i = 1; i <= 20; ++i) {
    h.push_back(Put(i, "v" + std::to_string(i), i, kNever, Outcome::kUnknown));
  }
  h.push_back(Get(21, "nope", 30, 31));
  EXPECT_EQ(CheckLinearizable(h, /*max_states=*/100).verdict, Verdict::kGaveUp);
}

}  // namespace
}  // namespace berth::sim
