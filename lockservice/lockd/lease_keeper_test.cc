#include "lockservice/lockd/lease_keeper.h"

#include <memory>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::lockd {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;
using ::testing::Pair;
using RenewOutcome = LeaseKeeper::RenewOutcome;

constexpr uint64_t kSelf = 1;
constexpr uint64_t kOther = 2;

// (id, remaining_ms) of every entry of a checkpoint, in command order.
std::vector<std::pair<int64_t, int64_t>> Entries(
    const std::vector<lockpb::LeaseCheckpointCmd>& cmds) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const lockpb::LeaseCheckpointCmd& c : cmds) {
    for (const auto& e : c.leases()) out.emplace_back(e.id(), e.remaining_ms());
  }
  return out;
}

class LeaseKeeperTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeaseKeeper> Make(LeaseKeeperOptions opts = {}) {
    opts.self_id = kSelf;
    auto k = LeaseKeeper::Create(&clock_, opts);
    EXPECT_TRUE(k.ok()) << k.status();
    return std::move(*k);
  }
  SimClock clock_;
};

TEST_F(LeaseKeeperTest, CreateRejectsBadOptions) {
  LeaseKeeperOptions no_id;
  absl::StatusOr<std::unique_ptr<LeaseKeeper>> anon =
      LeaseKeeper::Create(&clock_, no_id);
  EXPECT_THAT(anon.status().message(), ::testing::HasSubstr("self_id"));
  LeaseKeeperOptions zero;
  zero.self_id = kSelf;
  zero.checkpoint_interval = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<LeaseKeeper>> k =
      LeaseKeeper::Create(&clock_, zero);
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(k.status().message(), ::testing::HasSubstr("interval"));
  LeaseKeeperOptions chunk;
  chunk.self_id = kSelf;
  chunk.max_leases_per_checkpoint = 0;
  k = LeaseKeeper::Create(&clock_, chunk);
  EXPECT_THAT(k.status().message(), ::testing::HasSubstr("per checkpoint"));
  EXPECT_FALSE(LeaseKeeper::Create(nullptr, chunk).ok());
}

TEST_F(LeaseKeeperTest, RenewHoldsTheLeaseForItsTtlOnTheLocalClock) {
  auto k = Make();
  EXPECT_EQ(k->Remaining(2, 7), std::nullopt);
  EXPECT_EQ(k->Renew(/*term=*/2, 7, 9000), RenewOutcome::kRenewed);
  EXPECT_THAT(k->Remaining(2, 7), Optional(absl::Milliseconds(9000)));
  clock_.Advance(absl::Seconds(4));
  EXPECT_THAT(k->Remaining(2, 7), Optional(absl::Milliseconds(5000)));
  // A second renewal restarts the countdown from now.
  EXPECT_EQ(k->Renew(2, 7, 9000), RenewOutcome::kRenewed);
  EXPECT_THAT(k->Remaining(2, 7), Optional(absl::Milliseconds(9000)));
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(k->Remaining(2, 7), std::nullopt);
}

TEST_F(LeaseKeeperTest, CheckpointRecordsRemainingTtlOfLeasesRenewedSince) {
  auto k = Make();
  k->Renew(1, 1, 10'000);
  k->Renew(1, 2, 10'000);
  clock_.Advance(absl::Milliseconds(500));
  k->Renew(1, 2, 10'000);
  clock_.Advance(absl::Milliseconds(1500));
  EXPECT_TRUE(k->CheckpointDue());
  EXPECT_THAT(Entries(k->TakeCheckpoint()),
              ElementsAre(Pair(1, 8000), Pair(2, 8500)));
  EXPECT_FALSE(k->CheckpointDue());

  // Nothing renewed since: nothing to record, even after the interval.
  clock_.Advance(absl::Seconds(2));
  EXPECT_FALSE(k->CheckpointDue());
  EXPECT_TRUE(k->TakeCheckpoint().empty());

  // Only the lease renewed since the last checkpoint is recorded.
  k->Renew(1, 2, 10'000);
  clock_.Advance(absl::Seconds(2));
  EXPECT_THAT(Entries(k->TakeCheckpoint()), ElementsAre(Pair(2, 8000)));
}

TEST_F(LeaseKeeperTest, CheckpointIntervalIsCappedByTheShortestTtl) {
  LeaseKeeperOptions opts;
  opts.checkpoint_interval = absl::Seconds(2);
  auto k = Make(opts);
  k->Renew(1, 1, 60'000);
  clock_.Advance(absl::Milliseconds(1999));
  EXPECT_FALSE(k->CheckpointDue());
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(k->CheckpointDue());
  k->TakeCheckpoint();

  // A 4 s lease must be checkpointed every second (TTL / 4).
  k->Renew(1, 2, 4000);
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_FALSE(k->CheckpointDue());
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(k->CheckpointDue());
  EXPECT_THAT(Entries(k->TakeCheckpoint()), ElementsAre(Pair(2, 3000)));
}

TEST_F(LeaseKeeperTest, CheckpointIsChunkedInIdOrder) {
  LeaseKeeperOptions opts;
  opts.max_leases_per_checkpoint = 3;
  auto k = Make(opts);
  for (int64_t id : {7, 3, 5, 1, 6, 2, 4}) k->Renew(1, id, 5000);
  std::vector<lockpb::LeaseCheckpointCmd> cmds = k->TakeCheckpoint();
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].leases_size(), 3);
  EXPECT_EQ(cmds[1].leases_size(), 3);
  EXPECT_EQ(cmds[2].leases_size(), 1);
  std::vector<int64_t> ids;
  for (const auto& [id, remaining] : Entries(cmds)) {
    ids.push_back(id);
    EXPECT_EQ(remaining, 5000);
  }
  EXPECT_THAT(ids, ElementsAre(1, 2, 3, 4, 5, 6, 7));
}

TEST_F(LeaseKeeperTest, FailedCheckpointIsRetriedWithFreshRemainingTtl) {
  auto k = Make();
  k->Renew(1, 1, 10'000);
  clock_.Advance(absl::Seconds(2));
  std::vector<lockpb::LeaseCheckpointCmd> cmds = k->TakeCheckpoint();
  EXPECT_THAT(Entries(cmds), ElementsAre(Pair(1, 8000)));
  k->CheckpointFailed(cmds);
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(k->CheckpointDue());
  EXPECT_THAT(Entries(k->TakeCheckpoint()), ElementsAre(Pair(1, 6000)));
}

TEST_F(LeaseKeeperTest, ExpiryWaitsForTheLocalDeadline) {
  auto k = Make();
  k->Renew(1, 9, 3000);
  // The stored deadline may have passed, but the lease was renewed here.
  EXPECT_FALSE(k->BeginExpire(9));
  clock_.Advance(absl::Milliseconds(2999));
  EXPECT_FALSE(k->BeginExpire(9));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(k->BeginExpire(9));
  // While the expiry is in flight a renewal must go through the log.
  EXPECT_EQ(k->Renew(1, 9, 3000), RenewOutcome::kExpiring);
  k->EndExpire(9);
  EXPECT_EQ(k->Renew(1, 9, 3000), RenewOutcome::kRenewed);
  // A lease never renewed here is left to the stored deadline.
  EXPECT_TRUE(k->BeginExpire(10));
}

TEST_F(LeaseKeeperTest, ExpiredLeaseIsNotCheckpointed) {
  auto k = Make();
  k->Renew(1, 9, 3000);
  clock_.Advance(absl::Seconds(3));
  ASSERT_TRUE(k->BeginExpire(9));
  EXPECT_TRUE(k->TakeCheckpoint().empty());
  EXPECT_EQ(k->size(), 0u);
}

TEST_F(LeaseKeeperTest, ForgetDropsTheLocalDeadline) {
  auto k = Make();
  k->Renew(1, 4, 10'000);
  k->Forget(4);
  EXPECT_EQ(k->Remaining(1, 4), std::nullopt);
  EXPECT_TRUE(k->BeginExpire(4));
  EXPECT_TRUE(k->TakeCheckpoint().empty());
}

TEST_F(LeaseKeeperTest, AnotherLeaderDropsTheMap) {
  auto k = Make();
  k->ObserveLeader(kSelf, 3);
  k->Renew(3, 1, 10'000);
  k->Renew(3, 2, 10'000);
  EXPECT_EQ(k->size(), 2u);
  k->ObserveLeader(kOther, 4);
  EXPECT_EQ(k->size(), 0u);
  EXPECT_EQ(k->Remaining(3, 1), std::nullopt);
  EXPECT_TRUE(k->TakeCheckpoint().empty());
  // A renewal confirmed in the ended term cannot come back.
  EXPECT_EQ(k->Renew(3, 1, 10'000), RenewOutcome::kNotLeader);
  EXPECT_EQ(k->size(), 0u);
}

TEST_F(LeaseKeeperTest, CandidacyInANewTermDropsTheMap) {
  auto k = Make();
  k->ObserveLeader(kSelf, 3);
  k->Renew(3, 1, 10'000);
  // Stepped down and campaigning in term 4: term 3 is over.
  k->ObserveLeader(0, 4);
  EXPECT_EQ(k->size(), 0u);
  EXPECT_EQ(k->Renew(3, 1, 10'000), RenewOutcome::kNotLeader);
}

TEST_F(LeaseKeeperTest, ACandidateMayStillWinItsTerm) {
  auto k = Make();
  // Seen as a candidate of term 5 (no leader), then it wins term 5.
  k->ObserveLeader(0, 5);
  k->ObserveLeader(kSelf, 5);
  EXPECT_EQ(k->Renew(5, 1, 10'000), RenewOutcome::kRenewed);
  // The same candidate report arriving late changes nothing.
  k->ObserveLeader(0, 5);
  EXPECT_EQ(k->size(), 1u);
  EXPECT_THAT(k->Remaining(5, 1), Optional(absl::Milliseconds(10'000)));
  EXPECT_EQ(k->Renew(5, 2, 10'000), RenewOutcome::kRenewed);
}

TEST_F(LeaseKeeperTest, NewTermStartsWithAnEmptyMap) {
  auto k = Make();
  k->Renew(4, 1, 10'000);
  // Re-elected in a later term (someone else led in between).
  k->ObserveLeader(kSelf, 6);
  EXPECT_EQ(k->size(), 0u);
  EXPECT_EQ(k->Remaining(4, 1), std::nullopt);
  EXPECT_EQ(k->Renew(4, 1, 10'000), RenewOutcome::kNotLeader);
  // A renewal confirmed in a newer term than the keeper knows adopts it.
  EXPECT_EQ(k->Renew(7, 2, 10'000), RenewOutcome::kRenewed);
  EXPECT_EQ(k->Renew(6, 3, 10'000), RenewOutcome::kNotLeader);
  EXPECT_EQ(k->size(), 1u);
}

TEST_F(LeaseKeeperTest, StaleReportsDoNotReviveOrEndTheWrongTerm) {
  auto k = Make();
  k->ObserveLeader(kOther, 5);
  k->ObserveLeader(kSelf, 5);  // observed before the other's win: stale
  EXPECT_EQ(k->Renew(5, 1, 10'000), RenewOutcome::kNotLeader);
  // A late report about an older term leaves a newer one alone.
  k->ObserveLeader(kSelf, 8);
  ASSERT_EQ(k->Renew(8, 1, 10'000), RenewOutcome::kRenewed);
  k->ObserveLeader(kOther, 7);
  EXPECT_EQ(k->size(), 1u);
}

}  // namespace
}  // namespace berth::lockd
