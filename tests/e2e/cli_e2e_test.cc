// Issue #3: the real `berth` binary against a 3-replica lockd cluster:
// kv, lease, lock (token in the environment, exit code passthrough), watch,
// elect, cluster status/members/transfer-leader, and usage errors. Issue #8:
// a 2-second smoke run of every `berth bench` workload.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

class CliE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new LockdCluster(3);
    ASSERT_TRUE(cluster_->StartAll().ok());
    ASSERT_NE(cluster_->AwaitLeader(), 0u);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // Runs `berth --lock-endpoints ... args...`.
  RunResult Berth(std::vector<std::string> args) {
    std::vector<std::string> argv = {BERTH_CLI_BIN, "--lock-endpoints",
                                     cluster_->EndpointsFlag()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunToExit(argv, absl::StrCat(cluster_->dir(), "/berth-", ++runs_));
  }

  // Runs with --output json and parses the (single-line) document.
  Struct BerthJson(std::vector<std::string> args, int want_exit = 0) {
    args.push_back("--output");
    args.push_back("json");
    RunResult r = Berth(args);
    EXPECT_EQ(r.exit_code, want_exit) << r.err;
    Struct s;
    auto st = google::protobuf::util::JsonStringToMessage(
        std::string(absl::StripTrailingAsciiWhitespace(r.out)), &s);
    EXPECT_TRUE(st.ok()) << st << " in: " << r.out;
    return s;
  }

  static const Value& Field(const Struct& s, const std::string& name) {
    static const Value kMissing;
    auto it = s.fields().find(name);
    EXPECT_NE(it, s.fields().end()) << "no field " << name;
    return it == s.fields().end() ? kMissing : it->second;
  }

  static LockdCluster* cluster_;
  int runs_ = 0;
};

LockdCluster* CliE2E::cluster_ = nullptr;

TEST_F(CliE2E, KvPutGetListDelete) {
  ASSERT_EQ(Berth({"kv", "put", "/cli/kv/a", "alpha"}).exit_code, 0);
  ASSERT_EQ(Berth({"kv", "put", "/cli/kv/b", "beta"}).exit_code, 0);

  Struct got = BerthJson({"kv", "get", "/cli/kv/a"});
  const auto& kvs = Field(got, "kvs").list_value().values();
  ASSERT_EQ(kvs.size(), 1);
  EXPECT_EQ(kvs[0].struct_value().fields().at("value").string_value(), "alpha");
  EXPECT_EQ(kvs[0].struct_value().fields().at("version").number_value(), 1);

  RunResult table = Berth({"kv", "get", "/cli/kv/b"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("beta"), std::string::npos) << table.out;

  Struct list = BerthJson({"kv", "list", "/cli/kv/"});
  EXPECT_EQ(Field(list, "count").number_value(), 2);

  Struct del = BerthJson({"kv", "del", "/cli/kv/a"});
  EXPECT_EQ(Field(del, "deleted").number_value(), 1);
  RunResult missing = Berth({"kv", "get", "/cli/kv/a"});
  EXPECT_EQ(missing.exit_code, 1) << "a missing key exits 1";
}

TEST_F(CliE2E, LeaseGrantTtlRevoke) {
  Struct grant = BerthJson({"lease", "grant", "60s"});
  std::string id = Field(grant, "id").string_value();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Field(grant, "ttl").number_value(), 60);

  ASSERT_EQ(Berth({"kv", "put", "/cli/lease/k", "v", "--lease", id}).exit_code,
            0);
  Struct ttl = BerthJson({"lease", "ttl", id, "--keys"});
  EXPECT_GT(Field(ttl, "ttl").number_value(), 0);
  EXPECT_EQ(Field(ttl, "granted_ttl").number_value(), 60);
  ASSERT_EQ(Field(ttl, "keys").list_value().values_size(), 1);
  EXPECT_EQ(Field(ttl, "keys").list_value().values(0).string_value(),
            "/cli/lease/k");

  Struct revoke = BerthJson({"lease", "revoke", id});
  EXPECT_TRUE(Field(revoke, "revoked").bool_value());
  Struct gone = BerthJson({"lease", "ttl", id});
  EXPECT_EQ(Field(gone, "ttl").number_value(), -1);
  // The ephemeral key died with its lease.
  EXPECT_EQ(Berth({"kv", "get", "/cli/lease/k"}).exit_code, 1);
}

TEST_F(CliE2E, LockPassesTokenAndExitCode) {
  std::vector<int64_t> tokens;
  for (int i = 0; i < 2; ++i) {
    RunResult r = Berth(
        {"lock", "/cli/lock", "--", "/bin/sh", "-c", "echo $BERTH_LOCK_TOKEN"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    int64_t token = 0;
    ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &token))
        << "stdout: " << r.out;
    tokens.push_back(token);
  }
  EXPECT_GT(tokens[0], 0);
  EXPECT_GT(tokens[1], tokens[0]) << "fencing tokens must increase";

  RunResult seven =
      Berth({"lock", "/cli/lock", "--", "/bin/sh", "-c", "exit 7"});
  EXPECT_EQ(seven.exit_code, 7) << seven.err;
  // The lock was released when the command ended.
  RunResult free_again = Berth({"lock", "/cli/lock", "--timeout", "5s", "--",
                                "/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(free_again.exit_code, 0) << free_again.err;
}

TEST_F(CliE2E, WatchSeesConcurrentPuts) {
  Struct status = BerthJson({"cluster", "status"});
  int64_t rev = static_cast<int64_t>(Field(status, "revision").number_value());
  auto watch = Subprocess::Start(
      {BERTH_CLI_BIN, "--lock-endpoints", cluster_->EndpointsFlag(), "watch",
       "/cli/watch/", "--rev", absl::StrCat(rev + 1), "--count", "3",
       "--output", "json"},
      absl::StrCat(cluster_->dir(), "/watch"));
  ASSERT_TRUE(watch.ok()) << watch.status();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Berth({"kv", "put", absl::StrCat("/cli/watch/", i),
                     absl::StrCat("v", i)})
                  .exit_code,
              0);
  }
  std::optional<int> code = (*watch)->Wait(absl::Seconds(30));
  // A hang here has been seen once under CI load: say whether the watch saw
  // the events (and then failed to exit) or never saw them, and where the
  // puts landed.
  ASSERT_EQ(code, 0) << "watch from revision " << rev + 1 << "\nstdout:\n"
                     << (*watch)->Stdout() << "stderr:\n"
                     << (*watch)->Stderr() << "stored:\n"
                     << Berth({"kv", "get", "/cli/watch/", "--prefix",
                               "--output", "json"})
                            .out;
  std::vector<std::string> lines =
      absl::StrSplit((*watch)->Stdout(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << (*watch)->Stdout();
  for (int i = 0; i < 3; ++i) {
    Struct e;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[i], &e).ok());
    EXPECT_EQ(Field(e, "type").string_value(), "PUT");
    const auto& kv = Field(e, "kv").struct_value().fields();
    EXPECT_EQ(kv.at("key").string_value(), absl::StrCat("/cli/watch/", i));
    EXPECT_EQ(kv.at("value").string_value(), absl::StrCat("v", i));
  }
}

TEST_F(CliE2E, ElectOnce) {
  Struct first = BerthJson({"elect", "/cli/elect", "alice", "--once"});
  EXPECT_EQ(Field(first, "name").string_value(), "/cli/elect");
  EXPECT_EQ(Field(first, "value").string_value(), "alice");
  EXPECT_GT(Field(first, "token").number_value(), 0);
  // --once resigned, so a second candidate wins at once with a newer token.
  Struct second = BerthJson({"elect", "/cli/elect", "bob", "--once"});
  EXPECT_EQ(Field(second, "value").string_value(), "bob");
  EXPECT_GT(Field(second, "token").number_value(),
            Field(first, "token").number_value());
}

TEST_F(CliE2E, ClusterStatusMembersAndTransfer) {
  uint64_t leader = cluster_->AwaitLeader();
  ASSERT_NE(leader, 0u);
  Struct status = BerthJson({"cluster", "status"});
  EXPECT_EQ(Field(status, "leader_id").string_value(), absl::StrCat(leader));
  EXPECT_EQ(Field(status, "leader_addr").string_value(),
            cluster_->Address(leader));
  EXPECT_EQ(Field(status, "members").list_value().values_size(), 3);
  // Default threshold (50 ms): the field is there; its value depends on
  // this machine's load, so only its type is checked here (lockd_e2e_test
  // checks the count itself).
  EXPECT_TRUE(Field(status, "raft_thread_stalls").has_number_value());

  Struct members = BerthJson({"cluster", "members"});
  const auto& list = Field(members, "members").list_value().values();
  ASSERT_EQ(list.size(), 3);
  for (const Value& m : list) {
    uint64_t id = 0;
    ASSERT_TRUE(absl::SimpleAtoi(
        m.struct_value().fields().at("id").string_value(), &id));
    EXPECT_EQ(m.struct_value().fields().at("address").string_value(),
              cluster_->Address(id));
  }

  uint64_t target = leader % 3 + 1;
  Struct moved =
      BerthJson({"cluster", "transfer-leader", absl::StrCat(target)});
  EXPECT_EQ(Field(moved, "target_id").string_value(), absl::StrCat(target));
  EXPECT_TRUE(WaitFor([&] { return cluster_->Leader() == target; }))
      << "leadership did not move to " << target;
}

TEST_F(CliE2E, BadInputExitsTwoWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  std::vector<Case> cases = {
      {{"no-such-command"}, "no-such-command"},
      {{"kv", "get"}, "KEY"},
      {{"lease", "grant", "10"}, "10"},
      {{"kv", "list", "/x", "--output", "xml"}, "xml"},
      {{"cluster", "transfer-leader", "abc"}, "abc"},
      {{"watch", "/x", "--count", "abc"}, "--count"},
  };
  for (const Case& c : cases) {
    RunResult r = Berth(c.args);
    std::string cmd = absl::StrJoin(c.args, " ");
    EXPECT_EQ(r.exit_code, 2) << "berth " << cmd << "\n" << r.err;
    EXPECT_NE(r.err.find(c.mentions), std::string::npos)
        << "berth " << cmd << " should name '" << c.mentions
        << "'; stderr: " << r.err;
  }
  // An unreachable cluster is a failure (1), not a usage error.
  RunResult down = RunToExit({BERTH_CLI_BIN, "--lock-endpoints", "127.0.0.1:1",
                              "--timeout", "1s", "kv", "get", "/x"},
                             absl::StrCat(cluster_->dir(), "/berth-down"));
  EXPECT_EQ(down.exit_code, 1) << down.err;
}

// Issue #8: the benchmark driver must not rot while the comparison itself
// stays out of CI. Every workload runs for 2 s against this cluster; each
// must complete operations without errors. No figure is judged here.
TEST_F(CliE2E, BenchSmokeEveryWorkloadAgainstBerth) {
  struct Case {
    std::vector<std::string> args;
  };
  std::vector<Case> cases = {
      {{"bench", "put", "--clients", "4"}},
      {{"bench", "get", "--clients", "4"}},
      {{"bench", "get", "--clients", "4", "--serializable"}},
      {{"bench", "cas", "--clients", "4"}},
      {{"bench", "lock", "--clients", "4"}},
      {{"bench", "sessions", "--clients", "4", "--sessions", "100",
        "--session-ttl", "3s"}},
      {{"bench", "watch", "--clients", "4", "--watchers", "50"}},
  };
  for (Case& c : cases) {
    for (const char* f : {"--duration", "2s", "--warmup", "200ms"}) {
      c.args.push_back(f);
    }
    std::string cmd = absl::StrJoin(c.args, " ");
    Struct r = BerthJson(c.args);
    EXPECT_GT(Field(r, "ops").number_value(), 0) << cmd;
    EXPECT_EQ(Field(r, "errors").number_value(), 0)
        << cmd << ": " << Field(r, "first_error").string_value();
    EXPECT_EQ(Field(r, "target").string_value(), "berth") << cmd;
    const Struct& lat = Field(r, "latency_ms").struct_value();
    EXPECT_GT(Field(lat, "samples").number_value(), 0) << cmd;
    EXPECT_LE(Field(lat, "p50").number_value(),
              Field(lat, "p99").number_value())
        << cmd;
  }
  // A bench that reaches nothing fails and says so instead of printing zeros.
  RunResult down =
      RunToExit({BERTH_CLI_BIN, "--lock-endpoints", "127.0.0.1:1", "--timeout",
                 "1s", "bench", "put", "--duration", "1s", "--warmup", "0"},
                absl::StrCat(cluster_->dir(), "/berth-bench-down"));
  EXPECT_EQ(down.exit_code, 1) << down.err;
  EXPECT_NE(down.err.find("no put completed"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace berth::e2e
