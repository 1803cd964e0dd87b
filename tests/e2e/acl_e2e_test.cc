// Namespace ACLs against real processes over mutual TLS (issue #16 item
// 2c): one berth-lockd, two berth-schedulers and one berth-agent, each with
// its own certificate, driven through the real `berth` CLI as the users
// root, alice, bob and carol. Root creates namespace "team", grants alice
// every right and bob read, and enables ACLs; alice's job runs, bob may
// read but not submit or stop, carol may not even list, every refusal is in
// the audit log, and after the scheduler leader is killed the new leader
// refuses and allows exactly the same (the ACLs live in lockd).
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/tls/credentials.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/scheduler_harness.h"
#include "tests/e2e/subprocess.h"
#include "tests/e2e/tls_test_util.h"

namespace berth::e2e {
namespace {

// The job's name is filled in.
constexpr char kJob[] = R"(
job: %s
namespace: team
kind: batch
task:
  command: ["/bin/sh", "-c", "echo hello from team"]
  resources: {cpu: 100m, memory: 16MiB}
)";

class AclE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    Cert({"cert", "ca", "--out", P("ca")});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "server", "--name",
          "lockd", "--out", P("lockd")});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "scheduler", "--name",
          "sched", "--out", P("sched")});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "agent", "--name", "a1",
          "--out", P("a1")});
    for (const char* u : {"root", "alice", "bob", "carol"}) {
      Cert({"cert", "issue", "--ca", P("ca"), "--kind", "user", "--name", u,
            "--out", P(u)});
    }
    // The harness's own CLI runs (node list) dial as root.
    SetCliTls(P("root"));
    auto root = tls::Credentials::Load(
        {P("root/ca.pem"), P("root/cert.pem"), P("root/key.pem")},
        /*need_identity=*/false);
    ASSERT_TRUE(root.ok()) << root.status();

    lockd_ = std::make_unique<LockdCluster>(1, TlsFlags(P("lockd")));
    lockd_->set_credentials(root->channel());
    ASSERT_TRUE(lockd_->StartAll().ok());
    ASSERT_NE(lockd_->AwaitLeader(), 0u) << "no lockd leader over TLS";
    scheds_ =
        std::make_unique<SchedulerSet>(lockd_.get(), 2, TlsFlags(P("sched")));
    scheds_->set_credentials(root->channel());
    ASSERT_TRUE(scheds_->StartAll().ok());
    std::string data = absl::StrCat(lockd_->dir(), "/agent-a1");
    std::filesystem::create_directories(data);
    std::vector<std::string> flags = TlsFlags(P("a1"));
    flags.insert(flags.end(), {"--cpu", "1000m", "--memory", "1GiB",
                               "--stop-tasks-on-exit"});
    agent_ = std::make_unique<AgentProcess>("a1", lockd_->EndpointsFlag(),
                                            lockd_->NextAddress(), data,
                                            "process", flags);
    ASSERT_TRUE(agent_->Start().ok());
    RunResult nodes;
    ASSERT_TRUE(WaitFor(
        [&] {
          nodes = As("root", {"node", "list", "--output", "json"});
          return nodes.exit_code == 0 && absl::StrContains(nodes.out, "\"a1\"");
        },
        absl::Seconds(60)))
        << "agent never registered over TLS: " << nodes.out << nodes.err;
    for (const char* job : {"hello", "again"}) {
      std::ofstream(P(absl::StrCat(job, ".yaml")))
          << absl::StrReplaceAll(kJob, {{"%s", job}});
    }
    job_file_ = P("hello.yaml");
  }

  void TearDown() override {
    agent_.reset();
    scheds_.reset();
    lockd_.reset();
    SetCliTls("");
  }

  std::string P(const std::string& rel) const { return certs_.P(rel); }

  void Cert(const std::vector<std::string>& args) { certs_.Cert(args); }

  // `berth ARGS` with `user`'s certificate.
  RunResult As(const std::string& user, const std::vector<std::string>& args) {
    return RunCliWithCert(BerthCliBinary(), P(user),
                          {"--scheduler", scheds_->Flag(), "--lock-endpoints",
                           lockd_->EndpointsFlag(), "--timeout", "20s"},
                          args, P(absl::StrCat("cli-", user, "-", ++runs_)));
  }

  // `user`'s call exits 1 and says `want` on stderr.
  void ExpectRefused(const std::string& user,
                     const std::vector<std::string>& args,
                     const std::string& want) {
    RunResult r = As(user, args);
    EXPECT_EQ(r.exit_code, 1)
        << user << " " << args[0] << " " << args[1] << ": " << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, want)) << r.err;
  }

  void ExpectOk(const std::string& user, const std::vector<std::string>& args,
                const std::string& want = "") {
    RunResult r = As(user, args);
    EXPECT_EQ(r.exit_code, 0)
        << user << " " << args[0] << " " << args[1] << ": " << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.out, want)) << r.out;
  }

  // A job's state as alice sees it, "" when the call fails.
  std::string JobState(const std::string& job) {
    RunResult r =
        As("alice", {"job", "status", job, "-n", "team", "--output", "json"});
    if (r.exit_code != 0) return "";
    schedpb::JobStatusResponse st;
    if (!google::protobuf::util::JsonStringToMessage(r.out, &st).ok()) {
      return "";
    }
    return jobpb::JobStatus::State_Name(st.record().status().state());
  }

  // The refusals the audit log holds, as "principal method code".
  std::vector<std::string> AuditedRefusals() {
    RunResult r = As("root", {"audit", "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    google::protobuf::ListValue records;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(r.out, &records).ok())
        << r.out;
    std::vector<std::string> out;
    for (const auto& v : records.values()) {
      const auto& f = v.struct_value().fields();
      if (f.at("code").number_value() == 0) continue;
      out.push_back(absl::StrCat(f.at("principal").string_value(), " ",
                                 f.at("method").string_value(), " ",
                                 f.at("namespace").string_value(), " ",
                                 f.at("code").number_value()));
    }
    return out;
  }

  CertDir certs_{BerthCliBinary(), "berth-acl-e2e"};
  std::string job_file_;
  int runs_ = 0;
  std::unique_ptr<LockdCluster> lockd_;
  std::unique_ptr<SchedulerSet> scheds_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(AclE2ETest, UsersGetTheirNamespaceRightsAcrossAFailover) {
  ExpectOk("root", {"namespace", "create", "team"}, "namespace team created");
  ExpectOk("root", {"acl", "grant", "alice", "team", "submit,read,stop"},
           "\"alice\" may now read, submit, stop in team");
  ExpectOk("root", {"acl", "grant", "bob", "team", "read"});
  // Bad input names the problem.
  ExpectRefused("root", {"acl", "grant", "bob", "team", "read,write"},
                "unknown right \"write\"");
  ExpectRefused("root", {"acl", "grant", "bob", "nosuch", "read"},
                "namespace \"nosuch\" does not exist");
  ExpectRefused("root", {"acl", "grant", "", "team", "read"},
                "the principal is empty");
  // Only an admin switches ACLs, even while they are off.
  ExpectRefused("alice", {"acl", "enable"},
                "user \"alice\" may not switch ACLs");
  ExpectOk("root", {"acl", "enable"}, "ACLs are enabled");
  ExpectOk("bob", {"acl", "status"}, "you are user \"bob\"");

  // Alice submits to team and the job runs.
  ExpectOk("alice", {"job", "run", "--detach", job_file_});
  std::string state;
  EXPECT_TRUE(WaitFor(
      [&] {
        state = JobState("hello");
        return state == "COMPLETE";
      },
      absl::Seconds(60)))
      << "alice's job never completed: " << state;

  // Bob reads, but neither submits nor stops.
  ExpectRefused("bob", {"job", "run", "--detach", job_file_},
                "user \"bob\" has no \"submit\" right in namespace \"team\" "
                "(berth acl grant bob team submit)");
  ExpectOk("bob", {"job", "list", "-n", "team"}, "hello");
  ExpectOk("bob", {"job", "status", "hello", "-n", "team"}, "team/hello");
  ExpectRefused("bob", {"job", "stop", "hello", "-n", "team"},
                "user \"bob\" has no \"stop\" right in namespace \"team\"");
  // Carol holds nothing: team is not hers to list, and an unfiltered list
  // leaves its jobs out. Reads may reach the follower, whose mirror may
  // lag the enable by a watch round trip.
  RunResult carol;
  EXPECT_TRUE(WaitFor(
      [&] {
        carol = As("carol", {"job", "list", "-n", "team"});
        return carol.exit_code == 1;
      },
      absl::Seconds(20)))
      << carol.out << carol.err;
  EXPECT_TRUE(absl::StrContains(
      carol.err, "user \"carol\" has no \"read\" right in namespace \"team\""))
      << carol.err;
  RunResult all = As("carol", {"job", "list"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_FALSE(absl::StrContains(all.out, "hello")) << all.out;
  ExpectRefused("carol", {"namespace", "create", "mine"},
                "user \"carol\" may not call CreateNamespace");
  ExpectOk("alice", {"job", "stop", "hello", "-n", "team"}, "stopping");

  // Every refusal is in the audit log, reads included.
  std::vector<std::string> refusals = AuditedRefusals();
  std::cerr << "refusals in the audit log:\n  "
            << absl::StrJoin(refusals, "\n  ") << "\n";
  for (const char* want : {"bob SubmitJob team 7", "bob StopJob team 7",
                           "carol ListJobs team 7", "alice AclEnable  7"}) {
    EXPECT_NE(std::find(refusals.begin(), refusals.end(), std::string(want)),
              refusals.end())
        << "no audit record \"" << want << "\" among "
        << ::testing::PrintToString(refusals);
  }

  // The leader dies; the new one enforces the same ACLs from lockd.
  const int leader = scheds_->AwaitLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0) << "no scheduler leads";
  scheds_->Kill9(leader);
  ASSERT_GE(scheds_->AwaitLeader(absl::Seconds(60), leader), 0)
      << "no new scheduler leader";
  ExpectRefused("bob", {"job", "run", "--detach", job_file_},
                "user \"bob\" has no \"submit\" right in namespace \"team\"");
  ExpectRefused("carol", {"job", "status", "hello", "-n", "team"},
                "user \"carol\" has no \"read\" right in namespace \"team\"");
  ExpectOk("root", {"acl", "list"}, "ACLs are enabled");
  ExpectOk("alice", {"job", "run", "--detach", P("again.yaml")});
  EXPECT_TRUE(WaitFor(
      [&] {
        state = JobState("again");
        return state == "COMPLETE";
      },
      absl::Seconds(60)))
      << "alice's job did not run again after the failover: " << state;

  // Namespaces: a user lists those it holds a right in; a namespace with
  // jobs is not deleted.
  RunResult ns = As("bob", {"namespace", "list"});
  EXPECT_EQ(ns.exit_code, 0) << ns.err;
  EXPECT_TRUE(absl::StrContains(ns.out, "team")) << ns.out;
  EXPECT_FALSE(absl::StrContains(ns.out, "default")) << ns.out;
  ExpectRefused("root", {"namespace", "delete", "team"},
                "namespace \"team\" still has 2 jobs");

  // Read covers logs; a user's audit shows only its namespaces' records.
  ExpectOk("bob", {"job", "logs", "hello", "-n", "team"}, "hello from team");
  RunResult audit = As("bob", {"audit", "--output", "json"});
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
  google::protobuf::ListValue records;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(audit.out, &records).ok())
      << audit.out;
  EXPECT_GT(records.values_size(), 0);
  for (const auto& v : records.values()) {
    EXPECT_EQ(v.struct_value().fields().at("namespace").string_value(), "team")
        << audit.out;
  }
  // Revoking and disabling take effect at once (only the new leader is
  // left to answer).
  ExpectOk("root", {"acl", "revoke", "bob", "team"},
           "\"bob\" holds no rights in team now");
  ExpectRefused("bob", {"job", "status", "hello", "-n", "team"},
                "user \"bob\" has no \"read\" right in namespace \"team\"");
  ExpectOk("root", {"acl", "disable"}, "ACLs are disabled");
  ExpectOk("carol", {"job", "list", "-n", "team"}, "hello");
}

}  // namespace
}  // namespace berth::e2e
