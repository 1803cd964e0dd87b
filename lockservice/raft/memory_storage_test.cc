#include "lockservice/raft/memory_storage.h"

#include <gtest/gtest.h>

#include "lockservice/raft/progress.h"

namespace berth::raft {
namespace {

raftpb::Entry E(uint64_t index, uint64_t term) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data("d" + std::to_string(index));
  return e;
}

TEST(MemoryStorage, BootstrapRecordsMembership) {
  auto s = *MemoryStorage::Bootstrap({1, 2, 3}, {4});
  InitialState st = *s->GetInitialState();
  EXPECT_EQ(st.conf_state.voters_size(), 3);
  EXPECT_EQ(st.conf_state.learners(0), 4u);
  EXPECT_EQ(s->FirstIndex(), 1u);
  EXPECT_EQ(s->LastIndex(), 0u);
  EXPECT_EQ(*s->Term(0), 0u);
}

TEST(MemoryStorage, BootstrapRejectsBadLists) {
  EXPECT_TRUE(absl::IsInvalidArgument(MemoryStorage::Bootstrap({}).status()));
  auto dup = MemoryStorage::Bootstrap({1, 2}, {2});
  EXPECT_TRUE(absl::IsInvalidArgument(dup.status()));
  EXPECT_NE(dup.status().message().find("listed twice"), std::string::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(MemoryStorage::Bootstrap({0}).status()));
}

// §5.3: appending a conflicting entry truncates the suffix after it.
TEST(MemoryStorage, AppendTruncatesConflicts) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append({E(1, 1), E(2, 1), E(3, 1)}).ok());
  ASSERT_TRUE(s.Append({E(2, 2)}).ok());
  EXPECT_EQ(s.LastIndex(), 2u);
  EXPECT_EQ(*s.Term(2), 2u);
  EXPECT_TRUE(absl::IsInvalidArgument(s.Append({E(5, 2)})));
}

TEST(MemoryStorage, EntriesHonorsRangeErrorsAndSizeLimit) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append({E(1, 1), E(2, 1), E(3, 1), E(4, 1)}).ok());
  EXPECT_EQ(s.Entries(1, 5, UINT64_MAX)->size(), 4u);
  EXPECT_EQ(s.Entries(1, 5, 0)->size(), 1u);  // always at least one
  EXPECT_TRUE(IsUnavailableIndex(s.Entries(1, 6, UINT64_MAX).status()));
  ASSERT_TRUE(s.Compact(2).ok());
  EXPECT_TRUE(IsCompacted(s.Entries(2, 4, UINT64_MAX).status()));
  EXPECT_EQ(s.FirstIndex(), 3u);
  EXPECT_EQ(*s.Term(2), 1u);
  EXPECT_TRUE(IsCompacted(s.Term(1).status()));
  EXPECT_FALSE(IsCompacted(UnavailableIndexError()));
}

TEST(MemoryStorage, CreateSnapshotAndSaveWithSnapshot) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append({E(1, 1), E(2, 1), E(3, 2)}).ok());
  raftpb::ConfState cs;
  cs.add_voters(1);
  ASSERT_TRUE(s.CreateSnapshot(3, cs, "state", 2).ok());
  EXPECT_EQ(s.GetSnapshot()->metadata().term(), 2u);
  EXPECT_EQ(s.FirstIndex(), 3u);
  EXPECT_TRUE(absl::IsFailedPrecondition(s.CreateSnapshot(2, cs, "", 2)));
  EXPECT_TRUE(absl::IsInvalidArgument(s.CreateSnapshot(9, cs, "", 2)));

  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(10);
  snap.mutable_metadata()->set_term(5);
  snap.mutable_metadata()->mutable_conf_state()->add_voters(7);
  raftpb::HardState hs;
  hs.set_term(5);
  hs.set_commit(10);
  ASSERT_TRUE(s.Save(&hs, {E(11, 5)}, &snap).ok());
  EXPECT_EQ(s.FirstIndex(), 11u);
  EXPECT_EQ(s.LastIndex(), 11u);
  EXPECT_EQ(*s.Term(10), 5u);
  EXPECT_EQ(s.GetInitialState()->conf_state.voters(0), 7u);
  EXPECT_EQ(s.GetInitialState()->hard_state.commit(), 10u);
}

TEST(Inflights, BoundedByCountAndBytes) {
  Inflights by_count(3, 0);
  by_count.Add(1, 10);
  by_count.Add(2, 10);
  EXPECT_FALSE(by_count.Full());
  by_count.Add(3, 10);
  EXPECT_TRUE(by_count.Full());
  by_count.FreeLE(2);
  EXPECT_EQ(by_count.count(), 1);
  EXPECT_FALSE(by_count.Full());
  by_count.Add(4, 10);
  by_count.Add(5, 10);  // wraps around the ring
  EXPECT_TRUE(by_count.Full());
  by_count.FreeFirstOne();
  EXPECT_EQ(by_count.count(), 2);

  Inflights by_bytes(100, 100);
  by_bytes.Add(1, 60);
  EXPECT_FALSE(by_bytes.Full());
  by_bytes.Add(2, 60);
  EXPECT_TRUE(by_bytes.Full());
  by_bytes.FreeLE(1);
  EXPECT_EQ(by_bytes.bytes(), 60u);
  EXPECT_FALSE(by_bytes.Full());
}

// Fast back-off arithmetic: a probe rejection moves next to the hint.
TEST(Progress, ProbeRejectionUsesHint) {
  Progress pr(50, 10, 0);
  pr.match = 3;
  EXPECT_FALSE(pr.MaybeDecrTo(20, 10));  // not our latest probe: stale
  EXPECT_TRUE(pr.MaybeDecrTo(49, 10));
  EXPECT_EQ(pr.next, 11u);
  pr.MaybeUpdate(11);
  pr.BecomeReplicate();
  EXPECT_FALSE(pr.MaybeDecrTo(5, 1));  // below match: stale
}

}  // namespace
}  // namespace berth::raft
