// berth audit end to end (issue #16 item 3): three real berth-lockd
// replicas and two real schedulers on 127.0.0.1, driven through the berth
// CLI. Writes to the scheduler API, accepted or refused, are recorded with
// who, what, when and the answer; the log lives in lockd, so it survives
// the leader's kill -9 and reads the same from the new leader.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster_test.h"

namespace berth::e2e {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;

constexpr char kJob[] = R"(
job: audited
kind: service
replicas: 1
task:
  command: ["/bin/sleep", "600"]
  resources: {cpu: 10m, memory: 8MiB}
)";

class AuditE2ETest : public ProcessClusterTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartCluster(3)); }

  // `berth audit --output json ARGS`, parsed; empty on failure (reported).
  std::vector<Struct> Audit(std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {"audit", "--output", "json"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = scheds_->Cli(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    ListValue list;
    auto st = google::protobuf::util::JsonStringToMessage(r.out, &list);
    EXPECT_TRUE(st.ok()) << "not a JSON list: " << r.out;
    std::vector<Struct> out;
    for (const auto& v : list.values()) out.push_back(v.struct_value());
    return out;
  }

  static std::string Str(const Struct& s, const std::string& field) {
    auto it = s.fields().find(field);
    return it == s.fields().end() ? "" : it->second.string_value();
  }
  static double Num(const Struct& s, const std::string& field) {
    auto it = s.fields().find(field);
    return it == s.fields().end() ? -1 : it->second.number_value();
  }
};

TEST_F(AuditE2ETest, WritesAreRecordedAndSurviveLeaderKill) {
  const absl::Time before = absl::Now();
  ASSERT_TRUE(SubmitUntilAccepted("audited", kJob));
  RunResult stop = scheds_->Cli({"job", "stop", "audited"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  // Refused by the server: recorded with its error.
  RunResult missing = scheds_->Cli({"job", "stop", "no-such-job"});
  ASSERT_NE(missing.exit_code, 0);
  RunResult ns = scheds_->Cli({"namespace", "create", "team-a"});
  ASSERT_EQ(ns.exit_code, 0) << ns.err;

  std::vector<Struct> log = Audit();
  // A submit retried while the cluster settled may have left a refusal
  // first; the last four are this test's calls.
  ASSERT_GE(log.size(), 4u);
  log.erase(log.begin(), log.end() - 4);
  int leader = scheds_->Leader();
  ASSERT_GE(leader, 0);
  const std::string leader_id = absl::StrCat("s", leader + 1);
  const std::string methods[] = {"SubmitJob", "StopJob", "StopJob",
                                 "CreateNamespace"};
  const std::string targets[] = {"audited", "audited", "no-such-job", "team-a"};
  for (size_t i = 0; i < log.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(Str(log[i], "method"), methods[i]);
    EXPECT_EQ(Str(log[i], "target"), targets[i]);
    // Plaintext: nobody is proven; the CLI's login name is only a claim.
    EXPECT_EQ(Str(log[i], "principal"), "anonymous");
    EXPECT_FALSE(log[i].fields().at("authenticated").bool_value());
    EXPECT_EQ(Str(log[i], "claimed_user"), getuid() == 0 ? "root" : "");
    EXPECT_EQ(Str(log[i], "peer").rfind("ipv4:127.0.0.1:", 0), 0u)
        << Str(log[i], "peer");
    EXPECT_EQ(Str(log[i], "scheduler"), leader_id);
    EXPECT_GE(Num(log[i], "time_unix_ms"), absl::ToUnixMillis(before));
    if (i > 0) {
      EXPECT_GE(Num(log[i], "time_unix_ms"), Num(log[i - 1], "time_unix_ms"));
    }
  }
  EXPECT_EQ(Num(log[0], "code"), 0);
  EXPECT_EQ(Num(log[2], "code"), 5);  // NOT_FOUND
  EXPECT_NE(Str(log[2], "message").find("no-such-job"), std::string::npos)
      << Str(log[2], "message");

  // The log is in lockd: the next leader serves it, and records its own.
  scheds_->Kill9(leader);
  int next = scheds_->AwaitLeader(absl::Seconds(30), leader);
  ASSERT_GE(next, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return scheds_->Cli({"job", "stop", "audited", "--purge"}).exit_code ==
               0;
      },
      absl::Seconds(30)));
  log = Audit();
  ASSERT_GE(log.size(), 5u);
  EXPECT_EQ(Str(log[log.size() - 2], "target"), "team-a");
  EXPECT_EQ(Str(log.back(), "method"), "StopJob");
  EXPECT_EQ(Str(log.back(), "detail"), "purge");
  EXPECT_EQ(Str(log.back(), "scheduler"), absl::StrCat("s", next + 1));

  // --limit keeps the newest; the table names the columns.
  std::vector<Struct> newest = Audit({"--limit", "1"});
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(Str(newest[0], "detail"), "purge");
  RunResult table = scheds_->Cli({"audit", "--since", "1h"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("TIME"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("NOT_FOUND"), std::string::npos) << table.out;
  RunResult bad = scheds_->Cli({"audit", "--since", "yesterday"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--since"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace berth::e2e
