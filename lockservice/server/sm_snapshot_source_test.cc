// SnapshotSource: an image built from a pinned read view holds exactly the
// state at the pin, however much the state machine applies meanwhile, and
// restores into an identical replica.
#include "lockservice/server/sm_snapshot_source.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"

namespace berth::lock::testing {
namespace {

using SnapshotSourceTest = SmTest;

TEST_F(SnapshotSourceTest, ImageHoldsThePinnedStateWhileApplyContinues) {
  const int64_t lease = NewLease(60'000);
  for (int i = 0; i < 100; ++i) {
    Ok(PutCmd(absl::StrCat("/k/", i % 30), absl::StrCat("v", i),
              i % 3 == 0 ? lease : 0));
  }
  absl::StatusOr<std::string> at_pin = sm_->Dump();
  ASSERT_TRUE(at_pin.ok()) << at_pin.status();
  const uint64_t pinned_index = sm_->applied_index();

  absl::StatusOr<std::unique_ptr<SnapshotSource>> source =
      SnapshotSource::Open((dir_ / "replica.db").string());
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<uint64_t> index = (*source)->Pin();
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(*index, pinned_index);
  EXPECT_EQ((*source)->Pin().status().code(),
            absl::StatusCode::kFailedPrecondition);

  // The writer is not blocked by the pinned reader (WAL), and its commits
  // do not leak into the view.
  for (int i = 0; i < 50; ++i) Ok(PutCmd(absl::StrCat("/after/", i), "x"));
  Ok(DeleteCmd("/k/", "/k0"));
  ASSERT_GT(sm_->applied_index(), pinned_index);

  absl::StatusOr<std::string> image = (*source)->Build();
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_FALSE((*source)->pinned());

  std::unique_ptr<StateMachine> fresh = OpenAt("fresh.db");
  ASSERT_TRUE(fresh->Restore(*image).ok());
  EXPECT_EQ(fresh->applied_index(), pinned_index);
  EXPECT_EQ(*fresh->Dump(), *at_pin);

  // A second pin sees the newer state.
  index = (*source)->Pin();
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(*index, sm_->applied_index());
  image = (*source)->Build();
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_TRUE(fresh->Restore(*image).ok());
  EXPECT_EQ(*fresh->Dump(), *sm_->Dump());
}

TEST_F(SnapshotSourceTest, BuildWithoutPinFails) {
  absl::StatusOr<std::unique_ptr<SnapshotSource>> source =
      SnapshotSource::Open((dir_ / "replica.db").string());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Build().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace berth::lock::testing
