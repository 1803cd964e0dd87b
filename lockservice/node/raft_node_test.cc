// RaftNode with real driver threads and an in-process transport. These tests
// use the real clock (the driver thread ticks it) but never sleep: every wait
// is a blocking call with a deadline (Propose, ReadBarrier) or a bounded poll
// on a condition.
#include "lockservice/node/raft_node.h"

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "lockservice/raft/memory_storage.h"

namespace berth::node {
namespace {

class Net;

class LocalTransport : public Transport {
 public:
  LocalTransport(Net* net) : net_(net) {}
  void Send(std::vector<raftpb::Message> msgs) override;
  void AddPeer(uint64_t, const std::string&) override {}
  void RemovePeer(uint64_t) override {}

 private:
  Net* net_;
};

// Routes messages between nodes; a node can be cut off entirely.
class Net {
 public:
  void Register(uint64_t id, RaftNode* n) {
    absl::MutexLock l(&mu_);
    nodes_[id] = n;
  }
  void SetDown(uint64_t id, bool down) {
    absl::MutexLock l(&mu_);
    down_[id] = down;
  }
  void Deliver(raftpb::Message m) {
    RaftNode* to = nullptr;
    {
      absl::MutexLock l(&mu_);
      if (down_[m.from()] || down_[m.to()]) return;
      auto it = nodes_.find(m.to());
      if (it == nodes_.end()) return;
      to = it->second;
    }
    to->Receive(std::move(m));
  }

 private:
  absl::Mutex mu_;
  std::map<uint64_t, RaftNode*> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, bool> down_ ABSL_GUARDED_BY(mu_);
};

void LocalTransport::Send(std::vector<raftpb::Message> msgs) {
  for (auto& m : msgs) net_->Deliver(std::move(m));
}

// Appends every payload to a log; the result is "<index>:<payload>".
class LogMachine : public StateMachine {
 public:
  std::string Apply(uint64_t index, std::string_view payload) override {
    absl::MutexLock l(&mu_);
    applied_ = index;
    if (payload.empty()) return "";  // a leader's no-op
    log_.emplace_back(payload);
    return std::to_string(index) + ":" + std::string(payload);
  }
  void ApplyConfChange(uint64_t index, const raftpb::ConfChange&) override {
    absl::MutexLock l(&mu_);
    applied_ = index;
  }
  uint64_t AppliedIndex() const override { return 0; }
  absl::StatusOr<std::string> Snapshot() override {
    absl::MutexLock l(&mu_);
    std::string out;
    for (auto& s : log_) out += s + "\n";
    return out;
  }
  absl::Status Restore(const raftpb::Snapshot& snap) override {
    absl::MutexLock l(&mu_);
    log_.clear();
    std::string_view d = snap.data();
    while (!d.empty()) {
      size_t nl = d.find('\n');
      log_.emplace_back(d.substr(0, nl));
      d.remove_prefix(nl + 1);
    }
    applied_ = snap.metadata().index();
    return absl::OkStatus();
  }
  std::vector<std::string> Log() {
    absl::MutexLock l(&mu_);
    return log_;
  }

 private:
  mutable absl::Mutex mu_;
  uint64_t applied_ = 0;
  std::vector<std::string> log_;
};

struct Replica {
  std::unique_ptr<raft::MemoryStorage> storage;
  std::unique_ptr<LogMachine> sm;
  std::unique_ptr<LocalTransport> transport;
  std::unique_ptr<RaftNode> node;
};

class RaftNodeTest : public ::testing::Test {
 protected:
  void StartCluster(int n, uint64_t snapshot_every = 0) {
    std::vector<uint64_t> ids;
    for (int i = 1; i <= n; ++i) ids.push_back(i);
    for (uint64_t id : ids) {
      Replica r;
      r.storage = *raft::MemoryStorage::Bootstrap(ids);
      r.sm = std::make_unique<LogMachine>();
      r.transport = std::make_unique<LocalTransport>(&net_);
      NodeOptions opts;
      opts.id = id;
      opts.tick_interval = absl::Milliseconds(5);
      opts.snapshot_every = snapshot_every;
      opts.keep_entries = 10;
      r.node = *RaftNode::Create(opts, r.storage.get(), r.sm.get(),
                                 r.transport.get());
      net_.Register(id, r.node.get());
      replicas_[id] = std::move(r);
    }
    for (auto& [id, r] : replicas_) r.node->Start();
  }

  void TearDown() override {
    for (auto& [id, r] : replicas_) r.node->Stop();
  }

  // Waits, with a deadline, until some replica reports itself leader.
  uint64_t AwaitLeader(uint64_t except = 0) {
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      for (auto& [id, r] : replicas_) {
        if (id == except) continue;
        NodeStatus s = r.node->GetStatus();
        if (s.role == raft::Role::kLeader) return id;
      }
      // Block on the cluster itself rather than sleeping: a read barrier on
      // any replica returns as soon as a leader exists or its deadline hits.
      for (auto& [id, r] : replicas_) {
        if (id == except) continue;
        r.node->ReadBarrier(absl::Now() + absl::Milliseconds(20)).IgnoreError();
        break;
      }
    }
    return 0;
  }

  Net net_;
  std::map<uint64_t, Replica> replicas_;
};

TEST_F(RaftNodeTest, ElectsLeaderAndReplicatesProposalsToAllReplicas) {
  StartCluster(3);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<std::string> r = replicas_[leader].node->Propose(
        "v" + std::to_string(i), absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NE(r->find(":v" + std::to_string(i)), std::string::npos) << *r;
  }
  // Every replica applies the same sequence (state machine safety).
  for (auto& [id, r] : replicas_) {
    ASSERT_TRUE(r.node->ReadBarrier(absl::Now() + absl::Seconds(10)).ok());
    std::vector<std::string> log = r.sm->Log();
    ASSERT_EQ(log.size(), 50u) << "replica " << id;
    for (int i = 0; i < 50; ++i) EXPECT_EQ(log[i], "v" + std::to_string(i));
  }
}

TEST_F(RaftNodeTest, FollowerForwardsProposalsAndReads) {
  StartCluster(3);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  uint64_t follower = leader % 3 + 1;
  absl::StatusOr<std::string> r = replicas_[follower].node->Propose(
      "from-follower", absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(replicas_[follower]
                  .node->ReadBarrier(absl::Now() + absl::Seconds(10))
                  .ok());
  std::vector<std::string> log = replicas_[follower].sm->Log();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back(), "from-follower");
}

TEST_F(RaftNodeTest, NewLeaderTakesOverWhenLeaderIsCutOff) {
  StartCluster(3);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(replicas_[leader]
                  .node->Propose("before", absl::Now() + absl::Seconds(10))
                  .ok());
  net_.SetDown(leader, true);
  uint64_t next = AwaitLeader(leader);
  ASSERT_NE(next, 0u);
  ASSERT_NE(next, leader);
  ASSERT_TRUE(replicas_[next]
                  .node->Propose("after", absl::Now() + absl::Seconds(10))
                  .ok());
  std::vector<std::string> log = replicas_[next].sm->Log();
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[log.size() - 2], "before");
  EXPECT_EQ(log.back(), "after");
  // The isolated old leader cannot serve a linearizable read.
  EXPECT_FALSE(replicas_[leader]
                   .node->ReadBarrier(absl::Now() + absl::Milliseconds(300))
                   .ok());
}

TEST_F(RaftNodeTest, ProposalWithoutQuorumTimesOutAsUnknownOutcome) {
  StartCluster(3);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  for (auto& [id, r] : replicas_) {
    if (id != leader) net_.SetDown(id, true);
  }
  absl::StatusOr<std::string> r = replicas_[leader].node->Propose(
      "lonely", absl::Now() + absl::Milliseconds(200));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status()) ||
              absl::IsUnavailable(r.status()))
      << r.status();
}

TEST_F(RaftNodeTest, SnapshotsCompactTheLogAndCatchUpALaggingReplica) {
  StartCluster(3, /*snapshot_every=*/20);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  uint64_t lagging = leader % 3 + 1;
  net_.SetDown(lagging, true);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        replicas_[leader]
            .node
            ->Propose("e" + std::to_string(i), absl::Now() + absl::Seconds(10))
            .ok());
  }
  EXPECT_GT(replicas_[leader].storage->FirstIndex(), 50u)
      << "leader should have compacted its log";
  net_.SetDown(lagging, false);
  ASSERT_TRUE(replicas_[leader]
                  .node->Propose("tail", absl::Now() + absl::Seconds(10))
                  .ok());
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::vector<std::string> log;
  while (absl::Now() < deadline) {
    replicas_[lagging]
        .node->ReadBarrier(absl::Now() + absl::Seconds(1))
        .IgnoreError();
    log = replicas_[lagging].sm->Log();
    if (!log.empty() && log.back() == "tail") break;
  }
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back(), "tail");
  EXPECT_EQ(log.size(), 101u);
}

}  // namespace
}  // namespace berth::node
