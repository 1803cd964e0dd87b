// Issue #18: a second etcd client, independent of berth and of etcdctl: the
// npm `etcd3` package (Node.js, @grpc/grpc-js), installed by
// scripts/setup.sh into tests/e2e/etcd3_node/node_modules. Its script
// (etcd3_node/client.js) runs a watch (live and replayed from a revision)
// and a lock with two contenders against a 3-replica berth-lockd's etcd
// ports, and the same script against a real etcd, so the checks are known
// to pass on the reference before they judge berth.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ports.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/etcd_process.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kScriptDir[] = BERTH_ETCD3_NODE_DIR;

// The script's one-line JSON report, parsed; fails the test on anything
// else, with the script's stderr.
Struct RunClient(const std::string& endpoints, const std::string& prefix,
                 const std::string& log_prefix) {
  RunResult r =
      RunToExit({"/usr/bin/node", absl::StrCat(kScriptDir, "/client.js"),
                 endpoints, prefix},
                log_prefix, absl::Seconds(120));
  Struct report;
  EXPECT_EQ(r.exit_code, 0)
      << "etcd3 client against " << endpoints << " failed:\n"
      << r.err;
  auto st = google::protobuf::util::JsonStringToMessage(r.out, &report);
  EXPECT_TRUE(st.ok()) << "not a JSON report: " << r.out << "\n" << r.err;
  return report;
}

const Value& Field(const Struct& s, const std::string& path1,
                   const std::string& path2) {
  static const Value kMissing;
  auto outer = s.fields().find(path1);
  if (outer == s.fields().end()) return kMissing;
  auto inner = outer->second.struct_value().fields().find(path2);
  if (inner == outer->second.struct_value().fields().end()) return kMissing;
  return inner->second;
}

// What client.js must observe on any correct etcd v3 server.
void ExpectCorrect(const Struct& r, const std::string& who) {
  SCOPED_TRACE(who);
  const double puts = Field(r, "watch", "puts").number_value();
  EXPECT_EQ(puts, 50);
  EXPECT_EQ(Field(r, "watch", "live_events").number_value(), puts);
  EXPECT_TRUE(Field(r, "watch", "live_matches_acks").bool_value());
  EXPECT_EQ(Field(r, "watch", "replayed_events").number_value(), puts);
  EXPECT_TRUE(Field(r, "watch", "replay_matches_acks").bool_value());
  EXPECT_TRUE(Field(r, "watch", "revisions_increase").bool_value());
  const double rounds = Field(r, "lock", "rounds").number_value();
  EXPECT_EQ(rounds, 16);
  // Every increment made under the lock survived: no two holders at once.
  EXPECT_EQ(Field(r, "lock", "counter").number_value(), rounds);
  EXPECT_EQ(Field(r, "lock", "overlaps").number_value(), 0);
  EXPECT_FALSE(Field(r, "lock", "lock_key_left").bool_value());
}

TEST(Etcd3NodeClientTest, LockAndWatchWorkAsOnEtcd) {
  ASSERT_EQ(
      access(absl::StrCat(kScriptDir, "/node_modules/etcd3").c_str(), R_OK), 0)
      << "the npm etcd3 package is missing: run scripts/setup.sh (it runs "
         "`npm ci` in "
      << kScriptDir << ")";
  absl::StatusOr<int> base = FindFreePortBlock(10, getpid() ^ 0xe73d);
  ASSERT_TRUE(base.ok()) << base.status();
  LockdCluster cluster(3);
  absl::StatusOr<std::vector<std::string>> eps =
      StartWithEtcdPorts(&cluster, 3, *base);
  ASSERT_TRUE(eps.ok()) << eps.status();

  auto etcd = EtcdProcess::Start(*base + 5, *base + 6);
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  ExpectCorrect(
      RunClient((*etcd)->endpoint(), "/npm", cluster.dir() + "/etcd3-vs-etcd"),
      "real etcd");

  ExpectCorrect(RunClient(absl::StrJoin(*eps, ","), "/npm",
                          cluster.dir() + "/etcd3-vs-berth"),
                "berth-lockd");
}

}  // namespace
}  // namespace berth::e2e
