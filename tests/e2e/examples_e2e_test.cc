// The example programs in examples/ run against a real 3-replica cluster.
#include <signal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

// The current leader's value in election `name`, "" if none or unknown.
std::string ElectionLeader(LockdCluster& c, const std::string& name) {
  RawClient rc(&c);
  lockpb::LeaderResponse resp;
  grpc::Status st = rc.OnLeader(
      [&](grpc::Channel* ch, grpc::ClientContext* ctx) {
        lockpb::LeaderRequest req;
        req.set_name(name);
        return lockpb::Election::NewStub(
                   std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
            ->Leader(ctx, req, &resp);
      },
      absl::Seconds(5));
  return st.ok() && resp.has_kv() ? resp.kv().value() : "";
}

TEST(ExamplesE2E, LockExampleTakesLockAndWritesGuarded) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  for (int i = 0; i < 2; ++i) {
    RunResult r = RunToExit({BERTH_LOCK_EXAMPLE_BIN, c.EndpointsFlag()},
                            absl::StrCat(c.dir(), "/lock-example-", i));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("holding examples/lock with fencing token"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("guarded write applied"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("unlocked"), std::string::npos) << r.out;
  }
}

TEST(ExamplesE2E, ElectionExampleHandsOverOnSignal) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  auto alice =
      Subprocess::Start({BERTH_ELECTION_EXAMPLE_BIN, "/examples/election",
                         "alice", c.EndpointsFlag()},
                        absl::StrCat(c.dir(), "/alice"));
  ASSERT_TRUE(alice.ok()) << alice.status();
  ASSERT_TRUE(WaitFor([&] {
    return ElectionLeader(c, "/examples/election") == "alice";
  })) << (*alice)->Stderr();
  auto bob = Subprocess::Start({BERTH_ELECTION_EXAMPLE_BIN,
                                "/examples/election", "bob", c.EndpointsFlag()},
                               absl::StrCat(c.dir(), "/bob"));
  ASSERT_TRUE(bob.ok()) << bob.status();

  (*alice)->Signal(SIGTERM);
  EXPECT_EQ((*alice)->Wait(absl::Seconds(30)), 0) << (*alice)->Stderr();
  EXPECT_NE((*alice)->Stdout().find("elected as alice"), std::string::npos)
      << (*alice)->Stdout();
  EXPECT_TRUE(WaitFor([&] {
    return ElectionLeader(c, "/examples/election") == "bob";
  })) << (*bob)->Stderr();
  (*bob)->Signal(SIGTERM);
  EXPECT_EQ((*bob)->Wait(absl::Seconds(30)), 0) << (*bob)->Stderr();
  EXPECT_NE((*bob)->Stdout().find("elected as bob"), std::string::npos)
      << (*bob)->Stdout();
}

}  // namespace
}  // namespace berth::e2e
