// RaftNode with real driver threads and an in-process transport. These tests
// use the real clock (the driver thread ticks it) but never sleep: every wait
// is a blocking call with a deadline (Propose, ReadBarrier) or a bounded poll
// on a condition.
#include "lockservice/node/raft_node.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
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
  // The view is a copy of the log (cheap enough for a test); Build() joins
  // it, after waiting at the gate if one is set.
  absl::StatusOr<std::unique_ptr<SnapshotBuilder>> PinSnapshot() override {
    absl::MutexLock l(&mu_);
    auto b = std::make_unique<Builder>();
    b->machine = this;
    b->index_ = applied_;
    b->view = log_;
    return b;
  }
  // Makes the next Build() announce itself on `started` and then wait for
  // `release`; both must outlive the build.
  void GateNextBuild(absl::Notification* started, absl::Notification* release) {
    absl::MutexLock l(&mu_);
    gate_started_ = started;
    gate_release_ = release;
  }
  int restores() {
    absl::MutexLock l(&mu_);
    return restores_;
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
    ++restores_;
    return absl::OkStatus();
  }
  std::vector<std::string> Log() {
    absl::MutexLock l(&mu_);
    return log_;
  }

 private:
  struct Builder : SnapshotBuilder {
    LogMachine* machine = nullptr;
    uint64_t index_ = 0;
    std::vector<std::string> view;
    uint64_t index() const override { return index_; }
    absl::StatusOr<std::string> Build() override {
      absl::Notification* started = nullptr;
      absl::Notification* release = nullptr;
      {
        absl::MutexLock l(&machine->mu_);
        std::swap(started, machine->gate_started_);
        std::swap(release, machine->gate_release_);
      }
      if (started != nullptr) started->Notify();
      if (release != nullptr) release->WaitForNotification();
      std::string out;
      for (auto& s : view) out += s + "\n";
      return out;
    }
  };

  mutable absl::Mutex mu_;
  uint64_t applied_ = 0;
  std::vector<std::string> log_;
  int restores_ = 0;
  absl::Notification* gate_started_ = nullptr;
  absl::Notification* gate_release_ = nullptr;
};

// What the replicas did, in order: "send <from> <index>" when a MsgApp
// carrying entry <index> reaches the transport, "save <id> <index>" when a
// Save persisting it starts, "hs-only <id>" for a Save of nothing but a
// HardState whose term and vote did not change.
class Journal {
 public:
  void Add(std::string event) {
    absl::MutexLock l(&mu_);
    events_.push_back(std::move(event));
  }
  std::vector<std::string> Events() {
    absl::MutexLock l(&mu_);
    return events_;
  }
  // Waits, with a deadline, until `event` was recorded.
  bool Await(const std::string& event, absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::find(events_.begin(), events_.end(), event) != events_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }

  // While blocked, replica `id`'s writes of entries park in Save (after
  // recording "save" events): its fsync "takes" until UnblockSaves.
  void BlockSaves(uint64_t id) {
    absl::MutexLock l(&mu_);
    blocked_.insert(id);
  }
  void UnblockSaves() {
    absl::MutexLock l(&mu_);
    blocked_.clear();
  }
  // Replica `id`'s saves of entries fail from now on (a full disk).
  void FailSaves(uint64_t id) {
    absl::MutexLock l(&mu_);
    failing_ = id;
  }
  bool Failing(uint64_t id) {
    absl::MutexLock l(&mu_);
    return failing_ == id;
  }
  void WaitIfBlocked(uint64_t id) {
    absl::MutexLock l(&mu_);
    auto open = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !blocked_.contains(id);
    };
    mu_.Await(absl::Condition(&open));
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> blocked_ ABSL_GUARDED_BY(mu_);
  uint64_t failing_ ABSL_GUARDED_BY(mu_) = 0;
};

class RecordingTransport : public Transport {
 public:
  RecordingTransport(Transport* inner, Journal* j) : inner_(inner), j_(j) {}
  void Send(std::vector<raftpb::Message> msgs) override {
    for (const raftpb::Message& m : msgs) {
      if (m.type() != raftpb::MSG_APP) continue;
      for (const raftpb::Entry& e : m.entries()) {
        j_->Add(absl::StrCat("send ", m.from(), " ", e.index()));
      }
    }
    inner_->Send(std::move(msgs));
  }
  void AddPeer(uint64_t id, const std::string& a) override {
    inner_->AddPeer(id, a);
  }
  void RemovePeer(uint64_t id) override { inner_->RemovePeer(id); }

 private:
  Transport* inner_;
  Journal* j_;
};

class RecordingStorage : public raft::LogStore {
 public:
  RecordingStorage(uint64_t id, raft::MemoryStorage* inner, Journal* j)
      : id_(id), inner_(inner), j_(j) {
    last_ = inner_->GetInitialState()->hard_state;
  }
  absl::StatusOr<raft::InitialState> GetInitialState() override {
    return inner_->GetInitialState();
  }
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) override {
    return inner_->Entries(lo, hi, max_bytes);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) override { return inner_->Term(i); }
  uint64_t FirstIndex() override { return inner_->FirstIndex(); }
  uint64_t LastIndex() override { return inner_->LastIndex(); }
  absl::StatusOr<raftpb::Snapshot> GetSnapshot() override {
    return inner_->GetSnapshot();
  }
  absl::Status Save(const raftpb::HardState* hs,
                    const std::vector<raftpb::Entry>& entries,
                    const raftpb::Snapshot* snap) override {
    if (hs != nullptr && entries.empty() && snap == nullptr &&
        hs->term() == last_.term() && hs->vote() == last_.vote()) {
      j_->Add(absl::StrCat("hs-only ", id_));
    }
    if (hs != nullptr) last_ = *hs;
    for (const raftpb::Entry& e : entries) {
      j_->Add(absl::StrCat("save ", id_, " ", e.index()));
    }
    if (!entries.empty()) j_->WaitIfBlocked(id_);
    if (!entries.empty() && j_->Failing(id_)) {
      return absl::ResourceExhaustedError("database or disk is full");
    }
    return inner_->Save(hs, entries, snap);
  }
  absl::Status CreateSnapshot(uint64_t index, const raftpb::ConfState& cs,
                              std::string data, uint64_t compact_to) override {
    return inner_->CreateSnapshot(index, cs, std::move(data), compact_to);
  }

 private:
  const uint64_t id_;
  raft::MemoryStorage* inner_;
  Journal* j_;
  raftpb::HardState last_;
};

struct Replica {
  std::unique_ptr<raft::MemoryStorage> storage;
  std::unique_ptr<RecordingStorage> recording_storage;
  std::unique_ptr<RecordingTransport> recording_transport;
  std::unique_ptr<LogMachine> sm;
  std::unique_ptr<LocalTransport> transport;
  std::unique_ptr<RaftNode> node;
};

class RaftNodeTest : public ::testing::Test {
 protected:
  void StartCluster(int n, uint64_t snapshot_every = 0,
                    Journal* journal = nullptr, bool start = true) {
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
      if (tune_) tune_(opts);
      opts.on_storage_failure = [this, id](const absl::Status& st) {
        absl::MutexLock l(&failures_mu_);
        storage_failures_.push_back(absl::StrCat(id, ": ", st.message()));
      };
      raft::LogStore* storage = r.storage.get();
      Transport* transport = r.transport.get();
      if (journal != nullptr) {
        r.recording_storage =
            std::make_unique<RecordingStorage>(id, r.storage.get(), journal);
        r.recording_transport =
            std::make_unique<RecordingTransport>(r.transport.get(), journal);
        storage = r.recording_storage.get();
        transport = r.recording_transport.get();
      }
      r.node = *RaftNode::Create(opts, storage, r.sm.get(), transport);
      net_.Register(id, r.node.get());
      replicas_[id] = std::move(r);
    }
    if (!start) return;
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

  // Commits one entry through `leader`, so that replication is in its
  // pipelined state; returns the index the next proposal will get.
  uint64_t WarmUp(uint64_t leader) {
    absl::StatusOr<std::string> warm = replicas_[leader].node->Propose(
        "warm-up", absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(warm.ok()) << warm.status();
    if (!warm.ok()) return 0;
    return std::stoull(warm->substr(0, warm->find(':'))) + 1;
  }

  // Adjusts every replica's options before StartCluster creates it.
  std::function<void(NodeOptions&)> tune_;
  // A member, not a test's local: the replicas record into it until
  // TearDown stops them, after the test body has returned.
  Journal journal_;
  Net net_;
  std::map<uint64_t, Replica> replicas_;
  absl::Mutex failures_mu_;
  std::vector<std::string> storage_failures_ ABSL_GUARDED_BY(failures_mu_);
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
    absl::Status barrier = r.node->ReadBarrier(absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(barrier.ok()) << "replica " << id << ": " << barrier;
    std::vector<std::string> log = r.sm->Log();
    ASSERT_EQ(log.size(), 50u) << "replica " << id;
    for (int i = 0; i < 50; ++i) EXPECT_EQ(log[i], "v" + std::to_string(i));
  }
}

// A follower holds committed entries back (NodeOptions::
// follower_apply_delay) until they are due, but applies them at once for a
// read on it that needs them.
TEST_F(RaftNodeTest, FollowerHoldsAppliesBackUntilDueOrARead) {
  tune_ = [](NodeOptions& o) {
    o.follower_apply_delay = absl::Hours(1);
    // No election may slip in on a busy machine: a leader change applies
    // everything held back.
    o.election_tick = 100;
  };
  StartCluster(3);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader % 3 + 1;
  absl::StatusOr<std::string> r =
      replicas_[leader].node->Propose("held", absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  const uint64_t index = std::stoull(r->substr(0, r->find(':')));
  // The follower learns the commit from the leader's next round.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (replicas_[follower].node->GetStatus().commit < index &&
         absl::Now() < deadline) {
    replicas_[leader]
        .node->ReadBarrier(absl::Now() + absl::Milliseconds(20))
        .IgnoreError();
  }
  NodeStatus s = replicas_[follower].node->GetStatus();
  ASSERT_GE(s.commit, index);
  EXPECT_LT(s.applied, index);
  EXPECT_THAT(replicas_[follower].sm->Log(),
              ::testing::Not(::testing::Contains("held")));

  absl::Status barrier =
      replicas_[follower].node->ReadBarrier(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(barrier.ok()) << barrier;
  EXPECT_THAT(replicas_[follower].sm->Log(), ::testing::Contains("held"));
  EXPECT_GE(replicas_[follower].node->GetStatus().applied, index);
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

// The image a lagging follower needs is built on demand off the driver
// thread: while the build is held at a gate, the leader keeps committing
// (if the build ran on the driver, these proposals could not complete), and
// afterwards the follower installs it while writes continue and ends up
// with exactly the leader's state.
TEST_F(RaftNodeTest, SnapshotIsBuiltOffTheDriverWhileWritesContinue) {
  StartCluster(3, /*snapshot_every=*/20);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  uint64_t lagging = leader % 3 + 1;
  absl::Notification build_started, build_release;
  // A failed assertion must not leave the builder thread parked forever.
  auto open_gate = absl::MakeCleanup([&] {
    if (!build_release.HasBeenNotified()) build_release.Notify();
  });
  replicas_[leader].sm->GateNextBuild(&build_started, &build_release);
  net_.SetDown(lagging, true);
  auto propose = [&](const std::string& v) {
    return replicas_[leader]
        .node->Propose(v, absl::Now() + absl::Seconds(10))
        .status();
  };
  int written = 0;
  // Write past the log the leader retains (20 per compaction, 10 kept).
  for (; written < 100; ++written) {
    ASSERT_TRUE(propose("e" + std::to_string(written)).ok());
  }
  ASSERT_GT(replicas_[leader].storage->FirstIndex(), 50u);
  // The follower is back and needs an image; the leader starts one.
  net_.SetDown(lagging, false);
  ASSERT_TRUE(build_started.WaitForNotificationWithTimeout(absl::Seconds(20)))
      << "the leader never started building an image";
  // The build is parked at the gate; the driver must not be.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(propose("e" + std::to_string(written++)).ok());
  }
  build_release.Notify();
  // Keep writing while the follower catches up through the snapshot.
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline && replicas_[lagging].sm->restores() == 0) {
    ASSERT_TRUE(propose("e" + std::to_string(written++)).ok());
  }
  ASSERT_GT(replicas_[lagging].sm->restores(), 0)
      << "the follower caught up without installing a snapshot";
  ASSERT_TRUE(propose("tail").ok());
  std::vector<std::string> log;
  while (absl::Now() < deadline) {
    replicas_[lagging]
        .node->ReadBarrier(absl::Now() + absl::Seconds(1))
        .IgnoreError();
    log = replicas_[lagging].sm->Log();
    if (!log.empty() && log.back() == "tail") break;
  }
  EXPECT_EQ(log, replicas_[leader].sm->Log());
  EXPECT_EQ(log.size(), static_cast<size_t>(written) + 1);
  NodeStatus st = replicas_[leader].node->GetStatus();
  EXPECT_GE(st.snapshots_built, 1u);
  EXPECT_EQ(st.snapshots_built_on_driver, 0u);
}

// Raft thesis §10.2.1: the leader's fsync and the followers' overlap,
// because the leader hands its appends to the transport before persisting
// them. (A commit counts the leader's copy only once its write reported
// durable: Raft::OnPersisted.)
TEST_F(RaftNodeTest, LeaderSendsAppendsBeforePersistingThem) {
  Journal& journal = journal_;
  StartCluster(3, 0, &journal);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  // Settle replication into the pipelined state first.
  ASSERT_TRUE(replicas_[leader]
                  .node->Propose("warm-up", absl::Now() + absl::Seconds(10))
                  .ok());
  std::vector<uint64_t> indexes;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::string> r = replicas_[leader].node->Propose(
        "v" + std::to_string(i), absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << r.status();
    indexes.push_back(std::stoull(r->substr(0, r->find(':'))));
  }
  std::vector<std::string> ev = journal.Events();
  auto pos = [&](const std::string& e) {
    return std::find(ev.begin(), ev.end(), e) - ev.begin();
  };
  for (uint64_t idx : indexes) {
    std::string send = absl::StrCat("send ", leader, " ", idx);
    std::string save = absl::StrCat("save ", leader, " ", idx);
    ASSERT_LT(pos(save), static_cast<long>(ev.size())) << save;
    EXPECT_LT(pos(send), pos(save)) << "entry " << idx;
  }
}

// The commit index is volatile (Raft Figure 2): a Ready that only moves it
// must not cost an fsync, on the leader or on a follower.
TEST_F(RaftNodeTest, CommitOnlyReadiesAreNotPersisted) {
  Journal& journal = journal_;
  StartCluster(3, 0, &journal);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        replicas_[leader]
            .node
            ->Propose("v" + std::to_string(i), absl::Now() + absl::Seconds(10))
            .ok());
  }
  for (auto& [id, r] : replicas_) {
    absl::Status barrier = r.node->ReadBarrier(absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(barrier.ok()) << "replica " << id << ": " << barrier;
    EXPECT_EQ(r.sm->Log().size(), 20u) << "replica " << id;
  }
  std::vector<std::string> ev = journal.Events();
  EXPECT_EQ(std::count_if(ev.begin(), ev.end(),
                          [](const std::string& e) {
                            return e.rfind("hs-only", 0) == 0;
                          }),
            0);
}

// Counts the calls of one completion callback and keeps the last status;
// tests wait on it with a deadline (a condition wait, not a sleep).
class Probe {
 public:
  ProposeDone OnPropose() {
    return [this](absl::StatusOr<std::string> r) {
      absl::MutexLock l(&mu_);
      ++calls_;
      status_ = r.status();
      if (r.ok()) value_ = *r;
    };
  }
  ReadDone OnRead() {
    return [this](absl::Status st) {
      absl::MutexLock l(&mu_);
      ++calls_;
      status_ = st;
    };
  }
  bool AwaitCalled(absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    auto called = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&called), timeout);
  }
  int calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }
  absl::Status status() {
    absl::MutexLock l(&mu_);
    return status_;
  }
  std::string value() {
    absl::MutexLock l(&mu_);
    return value_;
  }

 private:
  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::string value_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RaftNodeTest, AsyncProposalCompletesExactlyOnceWhenApplied) {
  StartCluster(3);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  Probe p;
  replicas_[leader].node->ProposeAsync("async", absl::InfiniteFuture(),
                                       p.OnPropose());
  ASSERT_TRUE(p.AwaitCalled(absl::Seconds(20)));
  ASSERT_TRUE(p.status().ok()) << p.status();
  EXPECT_NE(p.value().find(":async"), std::string::npos) << p.value();
  // Nothing completes it a second time: not more traffic, not Stop.
  ASSERT_TRUE(replicas_[leader]
                  .node->Propose("more", absl::Now() + absl::Seconds(10))
                  .ok());
  replicas_[leader].node->Stop();
  EXPECT_EQ(p.calls(), 1);
}

TEST_F(RaftNodeTest, PendingProposalFailsRetriablyWhenItsLeaderStepsDown) {
  StartCluster(3);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  net_.SetDown(leader, true);
  // No deadline: only the loss of leadership can end this proposal (it can
  // never commit, the other two elect a leader without it).
  Probe p;
  replicas_[leader].node->ProposeAsync("orphan", absl::InfiniteFuture(),
                                       p.OnPropose());
  ASSERT_NE(AwaitLeader(leader), 0u);
  // Check-quorum deposes the isolated leader; healing the network would
  // too (it sees the higher term). Either way the proposal fails promptly.
  net_.SetDown(leader, false);
  ASSERT_TRUE(p.AwaitCalled(absl::Seconds(20)));
  EXPECT_TRUE(absl::IsUnavailable(p.status())) << p.status();
  replicas_[leader].node->Stop();
  EXPECT_EQ(p.calls(), 1);
}

TEST_F(RaftNodeTest, StopCompletesPendingWorkOnceAndLaterCallsInline) {
  StartCluster(3, 0, nullptr, /*start=*/false);
  RaftNode* node = replicas_[1].node.get();
  Probe prop, read;
  node->ProposeAsync("queued", absl::InfiniteFuture(), prop.OnPropose());
  node->ReadBarrierAsync(absl::InfiniteFuture(), read.OnRead());
  EXPECT_EQ(prop.calls(), 0);
  node->Stop();
  EXPECT_EQ(prop.calls(), 1);
  EXPECT_EQ(read.calls(), 1);
  EXPECT_TRUE(absl::IsUnavailable(prop.status())) << prop.status();
  EXPECT_TRUE(absl::IsUnavailable(read.status())) << read.status();
  // After Stop the callback runs inline, before ProposeAsync returns.
  Probe late;
  node->ProposeAsync("late", absl::InfiniteFuture(), late.OnPropose());
  EXPECT_EQ(late.calls(), 1);
  EXPECT_EQ(late.status().message(), "replica is shutting down");
  node->Stop();
  EXPECT_EQ(prop.calls(), 1);
  EXPECT_EQ(read.calls(), 1);
}

TEST_F(RaftNodeTest, CancelCompletesAPendingProposalOrReadExactlyOnce) {
  // Not started: nothing but Cancel (and later Stop) can complete them.
  StartCluster(3, 0, nullptr, /*start=*/false);
  RaftNode* node = replicas_[1].node.get();
  Probe prop, read, other;
  uint64_t pt =
      node->ProposeAsync("gone", absl::InfiniteFuture(), prop.OnPropose());
  uint64_t rt = node->ReadBarrierAsync(absl::InfiniteFuture(), read.OnRead());
  node->ProposeAsync("stays", absl::InfiniteFuture(), other.OnPropose());
  EXPECT_NE(pt, rt);
  node->Cancel(pt, absl::CancelledError("client went away"));
  node->Cancel(rt, absl::CancelledError("client went away"));
  EXPECT_EQ(prop.calls(), 1);
  EXPECT_EQ(read.calls(), 1);
  EXPECT_TRUE(absl::IsCancelled(prop.status())) << prop.status();
  EXPECT_TRUE(absl::IsCancelled(read.status())) << read.status();
  EXPECT_EQ(other.calls(), 0);  // only the cancelled tickets
  node->Cancel(pt, absl::CancelledError("again"));
  node->Stop();
  EXPECT_EQ(prop.calls(), 1);
  EXPECT_EQ(read.calls(), 1);
  EXPECT_EQ(other.calls(), 1);
}

TEST_F(RaftNodeTest, CancelledProposalIsNotAnsweredWhenItCommitsLater) {
  StartCluster(3);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  for (auto& [id, r] : replicas_) {
    if (id != leader) net_.SetDown(id, true);
  }
  Probe p;
  uint64_t t = replicas_[leader].node->ProposeAsync(
      "maybe", absl::InfiniteFuture(), p.OnPropose());
  replicas_[leader].node->Cancel(t, absl::CancelledError("client went away"));
  ASSERT_EQ(p.calls(), 1);
  // Whatever happens to the entry afterwards, the callback stays fired once.
  for (auto& [id, r] : replicas_) net_.SetDown(id, false);
  uint64_t now_leader = AwaitLeader();
  ASSERT_NE(now_leader, 0u);
  ASSERT_TRUE(replicas_[now_leader]
                  .node->Propose("after", absl::Now() + absl::Seconds(10))
                  .ok());
  EXPECT_EQ(p.calls(), 1);
  EXPECT_TRUE(absl::IsCancelled(p.status()) || absl::IsUnavailable(p.status()))
      << p.status();
}

// Asynchronous leader writes (Raft thesis §10.2.1): while the leader's own
// write is stuck, its driver keeps replicating, and the two followers (a
// majority of three without the leader) commit its entries; but the leader
// applies and answers them only once its own copy is durable.
TEST_F(RaftNodeTest, LeaderReplicatesAndCommitsWhileItsOwnWriteIsStuck) {
  Journal& journal = journal_;
  StartCluster(3, 0, &journal);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  const uint64_t first = WarmUp(leader);
  ASSERT_NE(first, 0u);
  std::vector<uint64_t> followers;
  for (auto& [id, r] : replicas_) {
    if (id != leader) followers.push_back(id);
  }

  journal.BlockSaves(leader);
  // Whatever fails below, the stuck write must be let go before TearDown.
  absl::Cleanup unblock = [&] { journal.UnblockSaves(); };
  Probe p1, p2;
  replicas_[leader].node->ProposeAsync("p1", absl::Now() + absl::Seconds(20),
                                       p1.OnPropose());
  ASSERT_TRUE(journal.Await(absl::StrCat("save ", leader, " ", first),
                            absl::Seconds(10)));
  // The leader's write of `first` is parked; the followers still get it,
  // and a second proposal still goes out to them.
  replicas_[leader].node->ProposeAsync("p2", absl::Now() + absl::Seconds(20),
                                       p2.OnPropose());
  for (uint64_t f : followers) {
    for (uint64_t i : {first, first + 1}) {
      ASSERT_TRUE(
          journal.Await(absl::StrCat("save ", f, " ", i), absl::Seconds(10)))
          << "follower " << f << " entry " << i;
    }
  }
  // Both followers' acks commit both entries without the leader's copy.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (replicas_[leader].node->GetStatus().commit < first + 1 &&
         absl::Now() < deadline) {
    replicas_[followers[0]]
        .node->ReadBarrier(absl::Now() + absl::Milliseconds(20))
        .IgnoreError();
  }
  NodeStatus st = replicas_[leader].node->GetStatus();
  EXPECT_GE(st.commit, first + 1);
  // Not durable on the leader yet: not applied there, nobody answered.
  EXPECT_LT(st.applied, first);
  EXPECT_EQ(p1.calls(), 0);
  EXPECT_EQ(p2.calls(), 0);

  journal.UnblockSaves();
  ASSERT_TRUE(p1.AwaitCalled(absl::Seconds(10)));
  ASSERT_TRUE(p2.AwaitCalled(absl::Seconds(10)));
  EXPECT_TRUE(p1.status().ok()) << p1.status();
  EXPECT_TRUE(p2.status().ok()) << p2.status();
  EXPECT_EQ(p1.value(), absl::StrCat(first, ":p1"));
  EXPECT_EQ(p2.value(), absl::StrCat(first + 1, ":p2"));
}

// A follower writes off its driver thread (raft.h): while its fsync runs it
// still answers heartbeats, but it acks the entries only once they are
// durable.
TEST_F(RaftNodeTest, FollowerAnswersHeartbeatsButAcksOnlyDurableEntries) {
  Journal& journal = journal_;
  StartCluster(3, 0, &journal);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  const uint64_t first = WarmUp(leader);
  ASSERT_NE(first, 0u);
  // A read barrier is refused, retriably, while a busy machine's 5 ms
  // ticks let an election slip in; retry until the deadline.
  auto barrier = [](RaftNode* n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    absl::Status st = absl::DeadlineExceededError("no attempt");
    while (!st.ok() && absl::Now() < deadline) {
      st = n->ReadBarrier(std::min(deadline, absl::Now() + absl::Seconds(1)));
    }
    return st;
  };
  std::vector<uint64_t> followers;
  for (auto& [id, r] : replicas_) {
    if (id == leader) continue;
    followers.push_back(id);
    // Its write of the warm-up is done (not parked by the block below).
    ASSERT_TRUE(barrier(r.node.get()).ok());
  }
  for (uint64_t f : followers) journal.BlockSaves(f);
  absl::Cleanup unblock = [&] { journal.UnblockSaves(); };
  Probe p;
  replicas_[leader].node->ProposeAsync("p", absl::Now() + absl::Seconds(20),
                                       p.OnPropose());
  for (uint64_t f : followers) {
    ASSERT_TRUE(
        journal.Await(absl::StrCat("save ", f, " ", first), absl::Seconds(10)))
        << "follower " << f;
  }
  // Both followers' writes are parked. A linearizable read on the leader
  // needs a heartbeat round answered by one of them: their drivers are not
  // stuck in the write.
  absl::Status read = barrier(replicas_[leader].node.get());
  EXPECT_TRUE(read.ok()) << read;
  // Yet no follower acked the parked entry, so it is not committed.
  EXPECT_LT(replicas_[leader].node->GetStatus().commit, first);
  EXPECT_EQ(p.calls(), 0);

  journal.UnblockSaves();
  ASSERT_TRUE(p.AwaitCalled(absl::Seconds(10)));
  EXPECT_TRUE(p.status().ok()) << p.status();
  EXPECT_EQ(p.value(), absl::StrCat(first, ":p"));
}

// Regression (nemesis, full disk): a replica whose write failed stopped
// taking part in Raft but said so to nobody, so berth-lockd kept serving
// watch streams that would never see another event. The node now reports
// the failure once, and berth-lockd exits on it.
TEST_F(RaftNodeTest, FailedSaveStopsTheReplicaAndReportsItOnce) {
  Journal& journal = journal_;
  StartCluster(3, 0, &journal);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  uint64_t follower = leader % 3 + 1;
  journal.FailSaves(follower);
  for (int i = 0; i < 3; ++i) {
    // The other two still commit.
    absl::StatusOr<std::string> r = replicas_[leader].node->Propose(
        absl::StrCat("p", i), absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  absl::MutexLock l(&failures_mu_);
  auto reported = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(failures_mu_) {
    return !storage_failures_.empty();
  };
  ASSERT_TRUE(failures_mu_.AwaitWithTimeout(absl::Condition(&reported),
                                            absl::Seconds(10)));
  EXPECT_THAT(storage_failures_, ::testing::ElementsAre(absl::StrCat(
                                     follower, ": database or disk is full")));
}

// A leader sends a write before its own log write; if that write fails,
// the followers may still commit the entry. The pending call must then end
// as "unavailable, may still commit" (a client retries it under its request
// id or reports an unknown outcome), never as a plain failure.
TEST_F(RaftNodeTest, LeaderSaveFailureLeavesPendingWritesUnknown) {
  Journal& journal = journal_;
  StartCluster(3, 0, &journal);
  uint64_t leader = AwaitLeader();
  ASSERT_NE(leader, 0u);
  journal.FailSaves(leader);
  absl::StatusOr<std::string> r =
      replicas_[leader].node->Propose("p", absl::Now() + absl::Seconds(10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("may still commit"));
}

}  // namespace
}  // namespace berth::node
