// SO_REUSEPORT is off on every berth listener (common/tls/listen.h): a
// second berth-lockd started on a port that a running one serves must fail
// at once and name the port, instead of binding it too and silently taking
// half of the connections.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

TEST(ListenE2ETest, SecondLockdOnATakenPortFailsAndNamesIt) {
  LockdCluster one(1);
  ASSERT_TRUE(one.StartAll().ok());
  ASSERT_NE(one.AwaitLeader(), 0u);
  const std::string addr = one.Address(1);
  const std::string second = absl::StrCat(one.dir(), "/second");
  RunResult r =
      RunToExit({LockdBinary(), "--id=1", absl::StrCat("--listen=", addr),
                 absl::StrCat("--data-dir=", second), "--metrics-listen=off",
                 "--insecure"},
                second, absl::Seconds(20));
  EXPECT_NE(r.exit_code, -1) << "the second lockd kept running: " << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "cannot listen on " + addr)) << r.err;
  // The first replica was not disturbed: it still runs and still leads.
  EXPECT_TRUE(one.Running(1));
  EXPECT_EQ(one.AwaitLeader(absl::Seconds(5)), 1u);
}

}  // namespace
}  // namespace berth::e2e
