// Log replication: §5.3 log matching, §5.4.2 commitment (Figure 8), fast
// back-off, flow control, forwarding and restart.
#include <gtest/gtest.h>

#include "lockservice/raft/raft_test_util.h"

namespace berth::raft {
namespace {

using testing::MakeConfChange;
using testing::Network;

// §5.3 log matching: every replica applies the same entries in order.
TEST(RaftReplication, AllReplicasApplySameEntries) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(net.raft(1).Propose("e" + std::to_string(i)).ok());
  }
  net.Stabilize();
  ASSERT_EQ(net.node(1).applied_data.size(), 20u);
  EXPECT_EQ(net.node(2).applied_data, net.node(1).applied_data);
  EXPECT_EQ(net.node(3).applied_data, net.node(1).applied_data);
  EXPECT_EQ(net.node(1).applied_data[7], "e7");
}

// §5.4.2 / Figure 8: a leader must not commit an entry from an earlier term
// by counting replicas, even once a majority stores it; it commits only
// when an entry of its own term reaches a majority.
TEST(RaftReplication, Figure8CommitOnlyCurrentTermByCounting) {
  auto storage = *MemoryStorage::Bootstrap({1, 2, 3, 4, 5});
  raftpb::Entry e1, e2;
  e1.set_index(1);
  e1.set_term(1);
  e2.set_index(2);
  e2.set_term(2);
  ASSERT_TRUE(storage->Append({e1, e2}).ok());
  raftpb::HardState hs;
  hs.set_term(3);
  hs.set_commit(1);
  storage->SetHardState(hs);
  Config c;
  c.id = 1;
  c.storage = storage.get();
  c.pre_vote = false;
  c.applied = 1;
  auto r = *RaftImpl::New(c);
  ASSERT_TRUE(r->Campaign().ok());
  for (uint64_t from : {2, 3}) {
    raftpb::Message v;
    v.set_type(raftpb::MSG_VOTE_RESP);
    v.set_from(from);
    v.set_to(1);
    v.set_term(4);
    ASSERT_TRUE(r->Step(v).ok());
  }
  ASSERT_EQ(r->role(), Role::kLeader);
  ASSERT_EQ(r->raft_log().LastIndex(), 3u);  // the term-4 no-op
  // The leader's own copy counts once it is durable (raft.h).
  Ready rd = r->GetReady();
  ASSERT_TRUE(
      storage
          ->Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries, nullptr)
          .ok());
  r->Advance(rd);
  auto ack = [&](uint64_t from, uint64_t index) {
    raftpb::Message m;
    m.set_type(raftpb::MSG_APP_RESP);
    m.set_from(from);
    m.set_to(1);
    m.set_term(4);
    m.set_index(index);
    ASSERT_TRUE(r->Step(m).ok());
  };
  // A majority (1, 2, 3) now stores the term-2 entry at index 2...
  ack(2, 2);
  ack(3, 2);
  EXPECT_EQ(r->raft_log().committed(), 1u);  // ...but it is not committed.
  // Once the term-4 entry is on a majority, both commit.
  ack(2, 3);
  ack(3, 3);
  EXPECT_EQ(r->raft_log().committed(), 3u);
}

// §5.3 conflict resolution with fast back-off: a deposed leader's long

// Found by tests/fuzz/raft_step_fuzz: an AppendEntries whose entries do not
// follow its index (or whose terms are impossible) made the follower append
// them and then commit past its log, which aborts. Such a message is now
// dropped: no answer, log and commit index unchanged.
TEST(RaftReplication, MalformedAppendEntriesIsDropped) {
  auto storage = *MemoryStorage::Bootstrap({1, 2, 3});
  Config c;
  c.id = 1;
  c.storage = storage.get();
  auto r = *RaftImpl::New(c);
  const uint64_t last = r->raft_log().LastIndex();
  const uint64_t committed = r->raft_log().committed();
  auto app = [&](uint64_t first_index, uint64_t entry_term) {
    raftpb::Message m;
    m.set_type(raftpb::MSG_APP);
    m.set_from(2);
    m.set_to(1);
    m.set_term(5);
    m.set_index(last);
    m.set_log_term(0);
    m.set_commit(last + 50);
    for (uint64_t k = 0; k < 3; ++k) {
      raftpb::Entry* e = m.add_entries();
      e->set_index(first_index + k * 7);  // not contiguous
      e->set_term(entry_term);
    }
    return m;
  };
  for (const raftpb::Message& m :
       {app(last + 1, 5), app(last + 3, 5), app(last + 1, 9)}) {
    ASSERT_TRUE(r->Step(m).ok());
    EXPECT_EQ(r->raft_log().LastIndex(), last);
    EXPECT_EQ(r->raft_log().committed(), committed);
    Ready rd = r->GetReady();
    for (const raftpb::Message& out : rd.messages) {
      EXPECT_NE(out.type(), raftpb::MSG_APP_RESP);
    }
    r->Advance(rd);
  }
}

// uncommitted tail is replaced in a few round trips, not one per entry.
TEST(RaftReplication, ConflictingTailResolvedWithFastBackoff) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(net.raft(1).Propose("committed").ok());
  net.Stabilize();
  net.Isolate(1);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(net.raft(1).Propose("lost" + std::to_string(i)).ok());
  }
  net.Stabilize();
  // The majority side elects a new leader once the old lease expires.
  uint64_t leader = kNone;
  for (int i = 0; i < 100 && (leader == kNone || leader == 1); ++i) {
    net.TickAll();
    leader = net.raft(2).role() == Role::kLeader   ? 2
             : net.raft(3).role() == Role::kLeader ? 3
                                                   : kNone;
  }
  ASSERT_NE(leader, kNone);
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(net.raft(leader).Propose("new" + std::to_string(i)).ok());
  }
  net.Stabilize();
  // Restart the majority so the next leader starts probing node 1 at the end
  // of its (long) log, far beyond where node 1's log diverges.
  net.Restart(2);
  net.Restart(3);
  leader = kNone;
  for (int i = 0; i < 100 && leader == kNone; ++i) {
    net.TickAll();
    leader = net.raft(2).role() == Role::kLeader   ? 2
             : net.raft(3).role() == Role::kLeader ? 3
                                                   : kNone;
  }
  ASSERT_NE(leader, kNone);
  int rejects = 0;
  net.SetObserver([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP_RESP && m.from() == 1 && m.reject()) {
      ++rejects;
    }
  });
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.raft(1).lead(), leader);
  EXPECT_EQ(net.node(1).applied_data, net.node(leader).applied_data);
  EXPECT_EQ(net.node(1).applied_data.back(), "new59");
  EXPECT_EQ(net.raft(1).raft_log().LastIndex(),
            net.raft(leader).raft_log().LastIndex());
  // One rejection skips the whole conflicting term (not one per entry).
  EXPECT_EQ(rejects, 1);
}

// Flow control by message count: with acks withheld, the leader keeps at
// most max_inflight_msgs MsgApp in flight to a follower.
TEST(RaftReplication, FlowControlLimitsInflightMessages) {
  Network net(3, [](Config& c) { c.max_inflight_msgs = 4; });
  ASSERT_EQ(net.Elect(1), 1u);
  int sent = 0;
  net.SetObserver([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP && m.to() == 3 && m.entries_size() > 0) {
      ++sent;
    }
  });
  net.SetDropFilter([](const raftpb::Message& m) {
    return m.type() == raftpb::MSG_APP_RESP && m.from() == 3;
  });
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(net.raft(1).Propose("p" + std::to_string(i)).ok());
    net.Stabilize();
  }
  EXPECT_EQ(sent, 4);
  EXPECT_EQ(net.raft(1).GetStatus().progress.at(3).match, 1u);
  // Node 2 is unaffected.
  EXPECT_EQ(net.node(2).applied_data.size(), 20u);
  // When acks flow again the follower catches up.
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.node(3).applied_data, net.node(1).applied_data);
}

// Flow control by bytes: entries of ~600 bytes with a 1000-byte budget allow
// two messages in flight.
TEST(RaftReplication, FlowControlLimitsInflightBytes) {
  Network net(3, [](Config& c) { c.max_inflight_bytes = 1000; });
  ASSERT_EQ(net.Elect(1), 1u);
  int sent = 0;
  net.SetObserver([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP && m.to() == 3 && m.entries_size() > 0) {
      ++sent;
    }
  });
  net.SetDropFilter([](const raftpb::Message& m) {
    return m.type() == raftpb::MSG_APP_RESP && m.from() == 3;
  });
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(net.raft(1).Propose(std::string(600, 'a' + i)).ok());
    net.Stabilize();
  }
  EXPECT_EQ(sent, 2);
}

// Proposals on a follower are forwarded to the leader (MsgProp).
TEST(RaftReplication, FollowerForwardsProposals) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  ASSERT_TRUE(net.raft(3).Propose("via-follower").ok());
  net.Stabilize();
  EXPECT_EQ(net.node(1).applied_data, std::vector<std::string>{"via-follower"});
  EXPECT_EQ(net.node(3).applied_data, net.node(1).applied_data);
}

// Without a known leader a proposal fails instead of vanishing.
TEST(RaftReplication, ProposalWithoutLeaderFails) {
  Network net(3);
  absl::Status s = net.raft(2).Propose("x");
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
}

// Figure 2 persistent state: after every node restarts from storage, the
// term, vote and log survive and the cluster carries on.
TEST(RaftReplication, RestartFromStorage) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.raft(1).Propose("r").ok());
  net.Stabilize();
  const uint64_t term = net.raft(1).term();
  const uint64_t last = net.raft(1).raft_log().LastIndex();
  for (uint64_t id : net.ids()) net.Restart(id);
  for (uint64_t id : net.ids()) {
    EXPECT_EQ(net.raft(id).term(), term);
    EXPECT_EQ(net.raft(id).raft_log().LastIndex(), last);
    EXPECT_EQ(net.raft(id).role(), Role::kFollower);
    EXPECT_EQ(net.raft(id).GetStatus().conf_state.voters_size(), 3);
  }
  EXPECT_EQ(net.raft(2).vote(), 1u);
  uint64_t leader = kNone;
  for (int i = 0; i < 50 && leader == kNone; ++i) {
    net.TickAll();
    leader = net.Leader();
  }
  ASSERT_NE(leader, kNone);
  ASSERT_TRUE(net.raft(leader).Propose("after").ok());
  net.Stabilize();
  for (uint64_t id : net.ids()) {
    EXPECT_EQ(net.node(id).applied_data.size(), 6u);
    EXPECT_EQ(net.node(id).applied_data.back(), "after");
  }
}

// A lost MsgApp in replicate state is repaired through heartbeats.
TEST(RaftReplication, LostAppendIsRetried) {
  Network net(3);
  ASSERT_EQ(net.Elect(1), 1u);
  net.SetDropFilter([](const raftpb::Message& m) {
    return m.type() == raftpb::MSG_APP && m.to() == 3;
  });
  ASSERT_TRUE(net.raft(1).Propose("lost-once").ok());
  net.Stabilize();
  EXPECT_TRUE(net.node(3).applied_data.empty());
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.node(3).applied_data, std::vector<std::string>{"lost-once"});
}

// §5.3 liveness without ReportUnreachable (sim finding #2): the leader's
// link to a learner drops everything one way while the learner can still
// answer, so the leader's pipeline fills with MsgApps nobody acks. After the
// link heals, heartbeats alone must restart replication and the learner must
// catch up within an election timeout, with a tiny window (2 messages of one
// entry) so the recovery takes many round trips.
TEST(RaftReplication, FollowerWhoseAppendsWereLostIsEventuallyCaughtUp) {
  constexpr int kElectionTick = 10;
  Network net(3, [](Config& c) {
    c.max_inflight_msgs = 2;
    c.max_size_per_msg = 1;
  });
  ASSERT_EQ(net.Elect(1), 1u);
  net.AddEmptyNode(4);
  ASSERT_TRUE(
      net.raft(1)
          .ProposeConfChange(MakeConfChange(raftpb::CONF_ADD_LEARNER, 4))
          .ok());
  net.Stabilize();
  net.TickAll(2);
  ASSERT_EQ(net.raft(1).GetStatus().progress.at(4).match,
            net.raft(1).raft_log().LastIndex());
  net.SetDropFilter(
      [](const raftpb::Message& m) { return m.from() == 1 && m.to() == 4; });
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(net.raft(1).Propose("p" + std::to_string(i)).ok());
    net.TickAll();
  }
  ASSERT_EQ(net.node(2).applied_data.size(), 30u);
  ASSERT_LT(net.node(4).applied_data.size(), 30u);
  net.Heal();
  for (int t = 0; t < kElectionTick &&
                  net.node(4).applied_data != net.node(1).applied_data;
       ++t) {
    net.TickAll();
  }
  EXPECT_EQ(net.node(4).applied_data, net.node(1).applied_data);
  EXPECT_EQ(net.raft(1).GetStatus().progress.at(4).match,
            net.raft(1).raft_log().LastIndex());
}

// The driver applies committed entries before it persists the HardState that
// records the new commit, so a restart may find the application ahead of the
// stored commit. That proves those entries committed: restart from there.
TEST(RaftReplication, RestartWithAppliedPastTheStoredCommitRaisesCommit) {
  auto storage = *MemoryStorage::Bootstrap({1, 2, 3});
  std::vector<raftpb::Entry> ents;
  for (uint64_t i = 1; i <= 5; ++i) {
    raftpb::Entry e;
    e.set_index(i);
    e.set_term(1);
    ents.push_back(e);
  }
  ASSERT_TRUE(storage->Append(ents).ok());
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(2);
  storage->SetHardState(hs);
  Config c;
  c.id = 1;
  c.storage = storage.get();
  c.applied = 4;
  auto r = RaftImpl::New(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->raft_log().committed(), 4u);
  EXPECT_EQ((*r)->raft_log().applied(), 4u);

  // An applied index past the end of the log is another log's state.
  c.applied = 9;
  auto bad = RaftImpl::New(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("beyond last index 5"),
            std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace berth::raft
