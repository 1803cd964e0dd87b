// Asynchronous leader log writes (Raft thesis §10.2.1): the leader sends its
// entries before its own write is durable, so its copy may count toward a
// commit only after the driver reports it persisted (Raft::OnPersisted).
// These tests drive one RaftImpl by hand: "async" Readies have their entries
// moved out before Advance, and persisting them is a separate, later step.
#include <gtest/gtest.h>

#include <memory>
#include <utility>
#include <vector>

#include "lockservice/raft/memory_storage.h"
#include "lockservice/raft/raft_impl.h"

namespace berth::raft {
namespace {

class AsyncLeaderWriteTest : public ::testing::Test {
 protected:
  // Node 1 of a 3-voter cluster whose log holds (index 1, term 1),
  // committed and applied.
  void SetUp() override {
    storage_ = *MemoryStorage::Bootstrap({1, 2, 3});
    raftpb::Entry e;
    e.set_index(1);
    e.set_term(1);
    ASSERT_TRUE(storage_->Append({e}).ok());
    raftpb::HardState hs;
    hs.set_term(1);
    hs.set_commit(1);
    storage_->SetHardState(hs);
    Config c;
    c.id = 1;
    c.storage = storage_.get();
    c.pre_vote = false;
    c.applied = 1;
    r_ = *RaftImpl::New(c);
  }

  // A Ready persisted before anything else happens (the follower order).
  Ready PersistReady() {
    Ready rd = r_->GetReady();
    EXPECT_TRUE(storage_
                    ->Save(rd.hard_state ? &*rd.hard_state : nullptr,
                           rd.entries, nullptr)
                    .ok());
    r_->Advance(rd);
    return rd;
  }

  // A leader's Ready whose entries are written later: they are moved out
  // and returned; the rest of the Ready is acknowledged now.
  std::vector<raftpb::Entry> TakeReadyAsync() {
    Ready rd = r_->GetReady();
    EXPECT_TRUE(!rd.hard_state || rd.hard_state->term() == r_->term());
    std::vector<raftpb::Entry> ents = std::move(rd.entries);
    rd.entries.clear();
    for (const raftpb::Entry& e : rd.committed_entries) {
      applied_.push_back(e.index());
    }
    r_->Advance(rd);
    return ents;
  }

  // The write of `ents` completes: storage holds them, the core is told.
  void Persist(const std::vector<raftpb::Entry>& ents) {
    ASSERT_FALSE(ents.empty());
    ASSERT_TRUE(storage_->Save(nullptr, ents, nullptr).ok());
    r_->OnPersisted(ents.back().index(), ents.back().term());
  }

  void Step(raftpb::MessageType type, uint64_t from, uint64_t term,
            uint64_t index) {
    raftpb::Message m;
    m.set_type(type);
    m.set_from(from);
    m.set_to(1);
    m.set_term(term);
    m.set_index(index);
    ASSERT_TRUE(r_->Step(m).ok());
  }

  void Elect(uint64_t voter) {
    ASSERT_TRUE(r_->Campaign().ok());
    PersistReady();  // the vote for itself is durable before MsgVote leaves
    Step(raftpb::MSG_VOTE_RESP, voter, r_->term(), 0);
    ASSERT_EQ(r_->role(), Role::kLeader);
  }

  std::unique_ptr<MemoryStorage> storage_;
  std::unique_ptr<RaftImpl> r_;
  std::vector<uint64_t> applied_;
};

// In three voters a majority is two: the leader plus one follower, or both
// followers. With one follower ack, the entry commits only once the
// leader's own write is durable; with both, it commits without it, but the
// leader applies it only after its own write.
TEST_F(AsyncLeaderWriteTest, LeaderCountsItselfOnlyAfterItsWriteIsDurable) {
  Elect(2);
  const uint64_t term = r_->term();
  std::vector<raftpb::Entry> noop = TakeReadyAsync();
  ASSERT_EQ(noop.size(), 1u);
  ASSERT_EQ(noop[0].index(), 2u);

  // Follower 2 stores the no-op; the leader's copy is still being written.
  Step(raftpb::MSG_APP_RESP, 2, term, 2);
  EXPECT_EQ(r_->raft_log().committed(), 1u);
  EXPECT_EQ(r_->tracker().Get(1)->match, 1u);
  // The leader's write completes: leader + follower 2 are a majority.
  Persist(noop);
  EXPECT_EQ(r_->tracker().Get(1)->match, 2u);
  EXPECT_EQ(r_->raft_log().committed(), 2u);
  TakeReadyAsync();
  EXPECT_EQ(applied_, std::vector<uint64_t>{2});

  // Next entry: both followers ack before the leader's write completes.
  ASSERT_TRUE(r_->Propose("x").ok());
  std::vector<raftpb::Entry> x = TakeReadyAsync();
  ASSERT_EQ(x.size(), 1u);
  Step(raftpb::MSG_APP_RESP, 2, term, 3);
  EXPECT_EQ(r_->raft_log().committed(), 2u);  // one follower is not enough
  Step(raftpb::MSG_APP_RESP, 3, term, 3);
  EXPECT_EQ(r_->raft_log().committed(), 3u);  // two followers are
  // Committed, but not durable here yet: not handed out for applying.
  TakeReadyAsync();
  EXPECT_EQ(applied_, std::vector<uint64_t>{2});
  Persist(x);
  TakeReadyAsync();
  EXPECT_EQ(applied_, (std::vector<uint64_t>{2, 3}));
}

// A write report can arrive after this node's log was overwritten at that
// index and it leads again in a later term: it says nothing about the new
// entry there and must not count toward committing it.
TEST_F(AsyncLeaderWriteTest, StaleSelfAckAfterTermChangeIsIgnored) {
  Elect(2);  // term 2
  ASSERT_TRUE(r_->Propose("a").ok());
  std::vector<raftpb::Entry> stale = TakeReadyAsync();
  ASSERT_EQ(stale.size(), 2u);  // (2, t2) no-op and (3, t2) "a"
  ASSERT_EQ(stale.back().index(), 3u);
  ASSERT_EQ(stale.back().term(), 2u);

  // Deposed before that write completes: the term-3 leader (node 2)
  // replaces index 2 and the follower persists that at once.
  raftpb::Message app;
  app.set_type(raftpb::MSG_APP);
  app.set_from(2);
  app.set_to(1);
  app.set_term(3);
  app.set_index(1);
  app.set_log_term(1);
  app.set_commit(1);
  raftpb::Entry* e = app.add_entries();
  e->set_index(2);
  e->set_term(3);
  ASSERT_TRUE(r_->Step(app).ok());
  ASSERT_EQ(r_->role(), Role::kFollower);
  // The old write lands first (writes are ordered), its report is delayed;
  // then the follower's own write replaces index 2 and drops index 3.
  ASSERT_TRUE(storage_->Save(nullptr, stale, nullptr).ok());
  PersistReady();
  ASSERT_EQ(r_->raft_log().LastIndex(), 2u);

  // Leader again in term 4; its no-op lands at index 3 again.
  Elect(3);
  const uint64_t term = r_->term();
  std::vector<raftpb::Entry> noop = TakeReadyAsync();
  ASSERT_EQ(noop.size(), 1u);
  ASSERT_EQ(noop[0].index(), 3u);
  ASSERT_EQ(noop[0].term(), term);

  // The old write's report for (3, t2) arrives only now.
  r_->OnPersisted(stale.back().index(), stale.back().term());
  // The new no-op is still waiting for its own write...
  EXPECT_EQ(r_->raft_log().LastIndex(), 3u);
  EXPECT_EQ(r_->raft_log().TermOr0(3), term);
  EXPECT_EQ(r_->raft_log().PersistedIndex(), 2u);
  EXPECT_EQ(r_->tracker().Get(1)->match, 2u);
  Step(raftpb::MSG_APP_RESP, 2, term, 3);
  EXPECT_EQ(r_->raft_log().committed(), 1u);  // would be 3 if it counted
  Persist(noop);
  EXPECT_EQ(r_->raft_log().committed(), 3u);
}

}  // namespace
}  // namespace berth::raft
