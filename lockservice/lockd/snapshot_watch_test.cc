// A follower that catches up by installing a snapshot applies none of the
// entries the snapshot covers, so nothing is published for them: the watches
// on that replica must still be sent every event they skipped (or be told
// the history is compacted), never silently jump ahead. Found by the
// nemesis watch workload (scripts/nemesis.sh --seed 1 --duration 100).
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/lockd/replicated_store.h"
#include "lockservice/lockd/watch_hub.h"
#include "lockservice/server/sm_test_util.h"
#include "lockservice/server/state_machine.h"

namespace berth::lockd {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

class SnapshotWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat(
               "berth-snapwatch-", getpid(), "-",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    leader_ = Open("leader.db");
    store_ = std::make_unique<ReplicatedStore>(Open("follower.db"), &hub_);
  }
  void TearDown() override {
    hub_.RemoveSink(&sink_);
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<lock::StateMachine> Open(const std::string& name) {
    lock::StateMachine::Options o;
    o.path = (dir_ / name).string();
    auto sm = lock::StateMachine::Open(o);
    EXPECT_TRUE(sm.ok()) << sm.status();
    return std::move(*sm);
  }

  // The same command on the leader's state machine and, unless the
  // follower is "cut off", on the follower's store: both stay in step.
  void Replicate(const lockpb::Command& cmd, bool follower_too) {
    ++index_;
    ASSERT_TRUE(leader_->Apply(index_, cmd).ok());
    if (follower_too) {
      store_->BeginApplyBatch();
      store_->Apply(index_, cmd.SerializeAsString());
      store_->EndApplyBatch();
    }
  }

  absl::Status InstallLeaderSnapshot() {
    absl::StatusOr<std::string> image = leader_->Snapshot();
    if (!image.ok()) return image.status();
    raftpb::Snapshot snap;
    snap.set_data(*image);
    return store_->Restore(snap);
  }

  std::vector<lockpb::WatchResponse> Drain() {
    std::vector<lockpb::WatchResponse> out;
    sink_.Pop(&out, absl::InfinitePast());
    return out;
  }

  static std::vector<std::string> Values(
      const std::vector<lockpb::WatchResponse>& rs) {
    std::vector<std::string> v;
    for (const auto& r : rs) {
      for (const auto& e : r.events()) v.push_back(e.kv().value());
    }
    return v;
  }

  std::filesystem::path dir_;
  WatchHub hub_;
  WatchSink sink_{100000};
  std::unique_ptr<lock::StateMachine> leader_;
  std::unique_ptr<ReplicatedStore> store_;
  uint64_t index_ = 0;
};

TEST_F(SnapshotWatchTest, WatchGetsTheEventsTheSnapshotSkipped) {
  Replicate(lock::testing::PutCmd("/w/a", "v1"), true);
  int64_t compact = 0;
  ASSERT_TRUE(store_
                  ->StartWatch(&sink_, 7,
                               WatchHub::Spec{"/w/", "/w0", 0, false}, &compact)
                  .ok());
  Replicate(lock::testing::PutCmd("/w/a", "v2"), true);
  EXPECT_THAT(Values(Drain()), ElementsAre("v2"));

  // Cut off: the leader moves on, including writes outside the watch.
  std::vector<std::string> want;
  for (int i = 3; i <= 12; ++i) {
    Replicate(lock::testing::PutCmd(absl::StrCat("/w/k", i % 3),
                                    absl::StrCat("v", i)),
              false);
    want.push_back(absl::StrCat("v", i));
    Replicate(lock::testing::PutCmd("/other", absl::StrCat("o", i)), false);
  }
  ASSERT_TRUE(InstallLeaderSnapshot().ok());
  std::vector<lockpb::WatchResponse> got = Drain();
  EXPECT_THAT(Values(got), ElementsAreArray(want));
  for (const auto& r : got) EXPECT_EQ(r.watch_id(), 7);

  // And it keeps going from there, exactly once.
  Replicate(lock::testing::PutCmd("/w/a", "v13"), true);
  EXPECT_THAT(Values(Drain()), ElementsAre("v13"));
}

TEST_F(SnapshotWatchTest, WatchStartedInThePastKeepsItsStartRevision) {
  for (int i = 1; i <= 4; ++i) {
    Replicate(lock::testing::PutCmd("/w/a", absl::StrCat("v", i)), true);
  }
  int64_t compact = 0;
  // Revision 3 on: replays v3 and v4 at once.
  ASSERT_TRUE(store_
                  ->StartWatch(&sink_, 1, WatchHub::Spec{"/w/a", "", 3, false},
                               &compact)
                  .ok());
  EXPECT_THAT(Values(Drain()), ElementsAre("v3", "v4"));
  for (int i = 5; i <= 6; ++i) {
    Replicate(lock::testing::PutCmd("/w/a", absl::StrCat("v", i)), false);
  }
  ASSERT_TRUE(InstallLeaderSnapshot().ok());
  EXPECT_THAT(Values(Drain()), ElementsAre("v5", "v6"));
}

TEST_F(SnapshotWatchTest, CompactedGapEndsTheWatchWithTheCompactRevision) {
  Replicate(lock::testing::PutCmd("/w/a", "v1"), true);
  int64_t compact = 0;
  ASSERT_TRUE(store_
                  ->StartWatch(&sink_, 3,
                               WatchHub::Spec{"/w/", "/w0", 0, false}, &compact)
                  .ok());
  for (int i = 2; i <= 8; ++i) {
    Replicate(lock::testing::PutCmd("/w/a", absl::StrCat("v", i)), false);
  }
  lockpb::Command c;
  c.mutable_compact()->set_revision(6);
  Replicate(c, false);
  ASSERT_TRUE(InstallLeaderSnapshot().ok());
  std::vector<lockpb::WatchResponse> got = Drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].canceled());
  EXPECT_EQ(got[0].watch_id(), 3);
  EXPECT_EQ(got[0].compact_revision(), 6);
  EXPECT_THAT(got[0].cancel_reason(), ::testing::HasSubstr("compacted"));
  // The watch is gone: later events reach nobody.
  Replicate(lock::testing::PutCmd("/w/a", "v9"), true);
  EXPECT_TRUE(Drain().empty());
  EXPECT_EQ(hub_.size(), 0u);
}

}  // namespace
}  // namespace berth::lockd
