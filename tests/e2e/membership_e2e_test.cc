// Issue #3, done-when 5: a fourth replica joins a loaded 3-replica cluster
// through the client library (MemberAdd as learner, start it, MemberAdd
// again to promote), catches up from a snapshot because the log prefix is
// already compacted away, and is removed again, while a writer keeps
// writing and sees no failure it could not retry.
#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

// Puts keys continuously; a write whose outcome is unknown is retried (a
// put of the same value is safe to repeat) and only counts as an error if
// the retries fail too.
class Writer {
 public:
  explicit Writer(lock::Client* client) : client_(client) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Writer() { Stop(); }

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int64_t acked() const { return acked_.load(); }
  int64_t last_revision() const { return last_revision_.load(); }
  int64_t retried() const { return retried_.load(); }
  std::string errors() const {
    absl::MutexLock l(&mu_);
    return errors_;
  }

 private:
  void Loop() {
    for (int64_t i = 0; !stop_.load(); ++i) {
      std::string key = absl::StrCat("/e2e/member/", i % 50);
      std::string value = absl::StrCat(i);
      absl::StatusOr<lock::PutResult> r;
      for (int attempt = 0; attempt < 5; ++attempt) {
        r = client_->kv().Put(key, value);
        if (r.ok() || !lock::IsOutcomeUnknown(r.status())) break;
        retried_.fetch_add(1);
      }
      if (!r.ok()) {
        absl::MutexLock l(&mu_);
        absl::StrAppend(&errors_, key, ": ", r.status().ToString(), "\n");
        continue;
      }
      last_revision_.store(r->revision);
      acked_.fetch_add(1);
    }
  }

  lock::Client* client_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acked_{0};
  std::atomic<int64_t> last_revision_{0};
  std::atomic<int64_t> retried_{0};
  mutable absl::Mutex mu_;
  std::string errors_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The revision replica `id` serves from its own state (serializable).
int64_t LocalRevision(LockdCluster& c, uint64_t id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  lockpb::RangeRequest req;
  req.set_key("/e2e/member/0");
  req.set_serializable(true);
  lockpb::RangeResponse resp;
  grpc::Status st = lockpb::KV::NewStub(c.Channel(id))->Range(&ctx, req, &resp);
  return st.ok() ? resp.header().revision() : -1;
}

TEST(MembershipE2E, FourthReplicaJoinsFromSnapshotAndLeavesUnderLoad) {
  LockdCluster cluster(3, {"--snapshot-every=200"});
  ASSERT_TRUE(cluster.StartAll().ok());
  uint64_t leader = cluster.AwaitLeader();
  ASSERT_NE(leader, 0u);
  auto client = lock::Client::Connect(cluster.Endpoints());
  ASSERT_TRUE(client.ok()) << client.status();
  Writer writer(client->get());

  // Wait until the leader has compacted its log: from then on a new member
  // can only catch up by installing a snapshot.
  std::string leader_db =
      absl::StrCat(cluster.dir(), "/r", leader, "/lockd.db");
  ASSERT_TRUE(WaitFor(
      [&] {
        return QueryReplicaDb(leader_db,
                              "SELECT compacted_index FROM raft_meta") > 0;
      },
      absl::Seconds(90)))
      << "leader never compacted; writer acked " << writer.acked();

  std::string addr = cluster.NextAddress();
  auto learner = (*client)->MemberAdd(addr, /*is_learner=*/true);
  ASSERT_TRUE(learner.ok()) << learner.status();
  EXPECT_TRUE(learner->is_learner);
  const uint64_t id = learner->id;
  ASSERT_TRUE(cluster.StartJoining(id, addr).ok());
  auto voter = (*client)->MemberAdd(addr);
  ASSERT_TRUE(voter.ok()) << voter.status();
  EXPECT_EQ(voter->id, id);
  EXPECT_FALSE(voter->is_learner);
  auto members = (*client)->MemberList();
  ASSERT_TRUE(members.ok()) << members.status();
  int voters = 0;
  for (const lock::Member& m : *members) voters += m.is_learner ? 0 : 1;
  EXPECT_EQ(voters, 4);

  // The new replica serves the latest acknowledged write from its own state.
  int64_t target = writer.last_revision();
  EXPECT_TRUE(WaitFor([&] { return LocalRevision(cluster, id) >= target; },
                      absl::Seconds(30)))
      << "replica " << id << " stuck at revision " << LocalRevision(cluster, id)
      << ", want " << target;
  std::string new_db = absl::StrCat(cluster.dir(), "/r", id, "/lockd.db");
  EXPECT_GT(QueryReplicaDb(new_db, "SELECT snap_index FROM raft_meta"), 0)
      << "replica " << id << " did not start from a snapshot";
  EXPECT_GT(QueryReplicaDb(new_db, "SELECT MIN(idx) FROM raft_log"), 1);

  auto after = (*client)->MemberRemove(id);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->size(), 3u);
  for (const lock::Member& m : *after) EXPECT_NE(m.id, id);
  cluster.Term(id);

  // Writes go on with three members again.
  int64_t acked = writer.acked();
  EXPECT_TRUE(WaitFor([&] { return writer.acked() >= acked + 20; }));
  writer.Stop();
  std::cout << "membership: writer acked " << writer.acked() << " puts, "
            << writer.retried() << " outcome-unknown retries" << std::endl;
  EXPECT_EQ(writer.errors(), "");
}

}  // namespace
}  // namespace berth::e2e
