// lockd users and roles over mutual TLS (issue #16 items 2a and 3): three
// berth-lockd replicas with certificates from `berth cert`; root sets up a
// role and two users through the real CLI and enables auth; alice may use
// /app/ and nothing else, bob nothing; the state and its audit survive
// killing the leader; a berth-scheduler with its scheduler certificate
// still elects itself and writes its state.
//
// One cluster for every case: each start costs seconds on a small CI box.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/tls/credentials.h"
#include "gtest/gtest.h"
#include "lockservice/client/auth.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/scheduler_harness.h"
#include "tests/e2e/subprocess.h"
#include "tests/e2e/tls_test_util.h"

namespace berth::e2e {
namespace {

class AuthE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    Cert({"cert", "ca", "--out", P("ca")});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "server", "--name",
          "lockd", "--out", P("lockd")});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "scheduler", "--name",
          "sched", "--out", P("sched")});
    for (const char* u : {"root", "alice", "bob"}) {
      Cert({"cert", "issue", "--ca", P("ca"), "--kind", "user", "--name", u,
            "--out", P(u)});
    }
    // The CLI runs of this test (and of the scheduler harness) dial as root.
    SetCliTls(P("root"));
    lockd_ = std::make_unique<LockdCluster>(3, TlsFlags(P("lockd")));
    auto root = Credentials("root");
    ASSERT_TRUE(root.ok()) << root.status();
    lockd_->set_credentials(root->channel());
    ASSERT_TRUE(lockd_->StartAll().ok());
    ASSERT_NE(lockd_->AwaitLeader(), 0u) << "no lockd leader over TLS";
  }

  void TearDown() override {
    scheds_.reset();
    lockd_.reset();
    SetCliTls("");
  }

  std::string P(const std::string& rel) const { return certs_.P(rel); }
  void Cert(const std::vector<std::string>& args) { certs_.Cert(args); }
  absl::StatusOr<tls::Credentials> Credentials(const std::string& who) {
    return tls::Credentials::Load(
        {P(who + "/ca.pem"), P(who + "/cert.pem"), P(who + "/key.pem")},
        /*need_identity=*/false);
  }
  // A lockd client dialing with `who`'s certificate.
  std::unique_ptr<lock::Client> ClientAs(const std::string& who) {
    auto creds = Credentials(who);
    EXPECT_TRUE(creds.ok()) << creds.status();
    if (!creds.ok()) return nullptr;
    lock::ClientOptions co;
    co.credentials = creds->channel();
    auto endpoints = lock::ParseEndpoints(lockd_->EndpointsFlag());
    EXPECT_TRUE(endpoints.ok()) << endpoints.status();
    auto c = lock::Client::Connect(*endpoints, co);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  // `berth --lock-endpoints ... ARGS` as root.
  RunResult Cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BerthCliBinary(), "--lock-endpoints",
                                     lockd_->EndpointsFlag()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunToExit(argv, P(absl::StrCat("cli-", ++cli_runs_)),
                     absl::Seconds(30));
  }
  // The audit's "who what result" lines, newest first.
  std::vector<std::string> AuditLines(lock::AuthClient& auth) {
    std::vector<std::string> out;
    auto records = auth.AuditList(100);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return out;
    for (const auto& r : *records) {
      out.push_back(absl::StrCat(r.who, " ", r.what, " ", r.result));
    }
    return out;
  }

  CertDir certs_{BerthCliBinary(), "berth-auth-e2e"};
  int cli_runs_ = 0;
  std::unique_ptr<LockdCluster> lockd_;
  std::unique_ptr<SchedulerSet> scheds_;
};

TEST_F(AuthE2ETest, RolesGateKeysAndSurviveFailover) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"auth", "role", "add", "app-rw"},
           {"auth", "role", "grant", "app-rw", "/app/", "read,write,lock"},
           {"auth", "user", "add", "alice"},
           {"auth", "user", "grant-role", "alice", "app-rw"},
           {"auth", "user", "add", "bob"},
           {"auth", "enable"}}) {
    RunResult r = Cli(args);
    ASSERT_EQ(r.exit_code, 0)
        << absl::StrJoin(args, " ") << ": " << r.out << r.err;
  }
  // A bad permission word is a usage error naming it.
  RunResult bad = Cli({"auth", "role", "grant", "app-rw", "/x/", "read,exec"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "\"exec\"")) << bad.err;

  // alice: everything under /app/, nothing else.
  std::unique_ptr<lock::Client> alice = ClientAs("alice");
  ASSERT_NE(alice, nullptr);
  ASSERT_TRUE(alice->kv().Put("/app/x", "1").ok());
  auto got = alice->kv().Get("/app/x");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->value, "1");
  {
    auto session = lock::Session::Create(alice.get());
    ASSERT_TRUE(session.ok()) << session.status();
    lock::Mutex m(session->get(), "/app/l");
    ASSERT_TRUE(m.Lock(absl::Seconds(10)).ok());
    EXPECT_TRUE(m.Unlock().ok());
  }
  auto other = alice->kv().Put("/other", "1");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied)
      << other.status();
  EXPECT_TRUE(absl::StrContains(other.status().message(),
                                "user \"alice\" may not write \"/other\": no "
                                "role grants write on it (roles: app-rw)"))
      << other.status();
  lock::AuthClient alice_auth(alice.get());
  EXPECT_EQ(alice_auth.UserList().status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(alice_auth.Enable().code(), absl::StatusCode::kPermissionDenied);

  // bob: no roles, no reads.
  std::unique_ptr<lock::Client> bob = ClientAs("bob");
  ASSERT_NE(bob, nullptr);
  auto bob_get = bob->kv().Get("/app/x");
  EXPECT_EQ(bob_get.status().code(), absl::StatusCode::kPermissionDenied)
      << bob_get.status();
  EXPECT_TRUE(absl::StrContains(bob_get.status().message(),
                                "user \"bob\" may not read \"/app/x\""))
      << bob_get.status();
  // Nor may bob end alice's session: revoking it would drop her lock and
  // delete her key. She may.
  {
    auto session = lock::Session::Create(alice.get());
    ASSERT_TRUE(session.ok()) << session.status();
    lock::Mutex m(session->get(), "/app/held");
    ASSERT_TRUE(m.Lock(absl::Seconds(10)).ok());
    const int64_t lease = (*session)->lease_id();
    absl::Status revoke = bob->RevokeLease(lease);
    EXPECT_EQ(revoke.code(), absl::StatusCode::kPermissionDenied) << revoke;
    EXPECT_TRUE(absl::StrContains(
        revoke.message(),
        absl::StrCat("user \"bob\" may not revoke lease ", lease,
                     ": it holds the key \"/app/held/")))
        << revoke;
    absl::StatusOr<lock::LockHolder> holder = m.Holder();
    ASSERT_TRUE(holder.ok()) << holder.status();
    EXPECT_TRUE(holder->held) << "bob's refused revoke dropped the lock";
    EXPECT_TRUE(alice->RevokeLease(lease).ok());
  }
  // A client without a certificate cannot reach the mutual-TLS listener at
  // all (tls_e2e_test covers that); the Unauthenticated answer for callers
  // without one is covered by rbac_test.

  // A scheduler with its own certificate keeps working: it campaigns,
  // wins, and writes a submitted job's state.
  scheds_ =
      std::make_unique<SchedulerSet>(lockd_.get(), 1, TlsFlags(P("sched")));
  auto root_creds = Credentials("root");
  ASSERT_TRUE(root_creds.ok()) << root_creds.status();
  scheds_->set_credentials(root_creds->channel());
  ASSERT_TRUE(scheds_->StartAll().ok());
  ASSERT_EQ(scheds_->AwaitLeader(absl::Seconds(60)), 0) << scheds_->Stderr(0);
  RunResult sub = scheds_->Submit(R"(
job: hello
kind: batch
task:
  command: ["/bin/true"]
  resources: {cpu: 100m, memory: 16MiB}
)");
  ASSERT_EQ(sub.exit_code, 0) << sub.out << sub.err << scheds_->Stderr(0);
  std::unique_ptr<lock::Client> root = ClientAs("root");
  ASSERT_NE(root, nullptr);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto job = root->kv().Get("/berth/jobs/default/hello");
        return job.ok() && job->has_value();
      },
      absl::Seconds(30)))
      << "the scheduler did not write its job record: " << scheds_->Stderr(0);
  // Refusals would name the scheduler's built-in role.
  EXPECT_FALSE(absl::StrContains(scheds_->Stderr(0), "built-in role scheduler"))
      << scheds_->Stderr(0);

  // The audit names root for every change.
  lock::AuthClient root_auth(root.get());
  std::vector<std::string> audit = AuditLines(root_auth);
  ASSERT_GE(audit.size(), 6u);
  const std::vector<std::string> want = {
      "user:root auth enable ok",
      "user:root user add bob ok",
      "user:root user grant-role alice app-rw ok",
      "user:root user add alice ok",
      "user:root role grant app-rw read,write,lock /app/ ok",
      "user:root role add app-rw ok"};
  EXPECT_EQ(std::vector<std::string>(audit.begin(), audit.begin() + 6), want);

  // Kill the leader: the new one answers with the same state and audit.
  uint64_t old_leader = lockd_->AwaitLeader();
  ASSERT_NE(old_leader, 0u);
  lockd_->Kill9(old_leader);
  ASSERT_NE(lockd_->AwaitLeader(absl::Seconds(30), old_leader), 0u);
  auto status = root_auth.Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->enabled);
  EXPECT_EQ(AuditLines(root_auth), audit);
  auto users = root_auth.UserGet("alice");
  ASSERT_TRUE(users.ok()) << users.status();
  EXPECT_EQ(users->roles, std::vector<std::string>{"app-rw"});
  other = alice->kv().Put("/other", "2");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied)
      << other.status();
  EXPECT_TRUE(alice->kv().Put("/app/y", "2").ok());
}

}  // namespace
}  // namespace berth::e2e
