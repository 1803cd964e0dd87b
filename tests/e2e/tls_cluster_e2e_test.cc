// A whole berth cluster over mutual TLS (issue #16 done-when 1): three
// berth-lockd replicas, two berth-schedulers and two berth-agents, each
// with its own certificate from `berth cert`, driven through the real CLI
// with a user certificate (BERTH_TLS_* in the environment). The agents
// register through lockd, a batch job is placed and runs on them, its
// output comes back through the scheduler's TLS dial to an agent, and
// clients with an expired certificate or without TLS are refused by the
// schedulers, an agent's certificate is held to its own node, and with
// lockd's users and roles and the scheduler's namespace ACLs on, a user
// without the right is refused by both, while the cluster goes on serving.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/ports.h"
#include "common/tls/credentials.h"
#include "common/tls/x509.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"
#include "proto/agent.grpc.pb.h"
#include "proto/raft_peer.grpc.pb.h"
#include "proto/scheduler.grpc.pb.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/scheduler_harness.h"
#include "tests/e2e/subprocess.h"
#include "tests/e2e/tls_test_util.h"

namespace berth::e2e {
namespace {

class TlsClusterE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    Cert({"cert", "ca", "--out", P("ca")});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "server", "--name",
          "lockd", "--out", P("lockd")});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "scheduler", "--name",
          "sched", "--out", P("sched")});
    for (const char* a : {"a1", "a2"}) {
      Cert({"cert", "issue", "--ca", P("ca"), "--kind", "agent", "--name", a,
            "--out", P(a)});
    }
    for (const char* u : {"alice", "root", "carol"}) {
      Cert({"cert", "issue", "--ca", P("ca"), "--kind", "user", "--name", u,
            "--out", P(u)});
    }
    tls::IssueRequest old;
    old.kind = tls::CertKind::kUser;
    old.name = "bob";
    old.not_before = absl::Now() - absl::Hours(48);
    old.validity = absl::Hours(24);
    ASSERT_TRUE(tls::Issue(P("ca"), old, P("bob")).ok());

    // Every CLI run of the harness dials as alice. The daemons get explicit
    // flags, which take precedence over the environment.
    SetCliTls(P("alice"));

    lockd_ = std::make_unique<LockdCluster>(3, TlsFlags(P("lockd")));
    auto alice = tls::Credentials::Load(
        {P("alice/ca.pem"), P("alice/cert.pem"), P("alice/key.pem")},
        /*need_identity=*/false);
    ASSERT_TRUE(alice.ok()) << alice.status();
    lockd_->set_credentials(alice->channel());
    ASSERT_TRUE(lockd_->StartAll().ok());
    ASSERT_NE(lockd_->AwaitLeader(), 0u) << "no lockd leader over TLS";
    scheds_ =
        std::make_unique<SchedulerSet>(lockd_.get(), 2, TlsFlags(P("sched")));
    ASSERT_TRUE(scheds_->StartAll().ok());
    for (const char* a : {"a1", "a2"}) {
      std::string data = absl::StrCat(lockd_->dir(), "/agent-", a);
      std::filesystem::create_directories(data);
      std::vector<std::string> flags = TlsFlags(P(a));
      flags.insert(flags.end(), {"--cpu", "1000m", "--memory", "1GiB",
                                 "--stop-tasks-on-exit"});
      agents_.push_back(std::make_unique<AgentProcess>(
          a, lockd_->EndpointsFlag(), lockd_->NextAddress(), data, "process",
          flags));
      ASSERT_TRUE(agents_.back()->Start().ok());
    }
    // The schedulers' own leader probe dials plaintext; the CLI (with
    // alice's certificate) finds the leader through lockd instead.
    RunResult nodes;
    ASSERT_TRUE(WaitFor(
        [&] {
          nodes = scheds_->Cli({"node", "list", "--output", "json"});
          return nodes.exit_code == 0 &&
                 absl::StrContains(nodes.out, "\"a1\"") &&
                 absl::StrContains(nodes.out, "\"a2\"");
        },
        absl::Seconds(60)))
        << "agents never registered over TLS: " << nodes.out << nodes.err;
  }

  void TearDown() override {
    agents_.clear();
    scheds_.reset();
    lockd_.reset();
    SetCliTls("");
  }

  std::string P(const std::string& rel) const { return certs_.P(rel); }

  void Cert(const std::vector<std::string>& args) { certs_.Cert(args); }

  // `berth ARGS` against the whole cluster with the certificate in
  // P(user).
  RunResult As(const std::string& user, const std::vector<std::string>& args,
               const std::string& timeout = "20s") {
    return RunCliWithCert(BerthCliBinary(), P(user),
                          {"--scheduler", scheds_->Flag(), "--lock-endpoints",
                           lockd_->EndpointsFlag(), "--timeout", timeout},
                          args, P(absl::StrCat("as-", user, "-", ++runs_)));
  }

  // True once job `name` is COMPLETE (60 s at most).
  bool Completes(const std::string& name) {
    return WaitFor(
        [&] {
          auto r = scheds_->Status(name);
          return r.ok() &&
                 r->record().status().state() == jobpb::JobStatus::COMPLETE;
        },
        absl::Seconds(60));
  }

  // Writes `pem` as P(rel) the way an operator should: beside it, then
  // renamed into place, so a daemon re-reading it never sees half a file.
  void Install(const std::string& rel, const std::string& pem) {
    const std::string tmp = P(rel + ".new");
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << pem;
      ASSERT_TRUE(f.good()) << tmp;
    }
    std::filesystem::rename(tmp, P(rel));
  }

  // `berth job list` against the schedulers only, as someone else.
  RunResult JobListAs(const std::map<std::string, std::string>& env) {
    return RunToExit({BerthCliBinary(), "--scheduler", scheds_->Flag(),
                      "--timeout", "2s", "job", "list"},
                     P("job-list"), absl::Seconds(20), env);
  }

  CertDir certs_{BerthCliBinary(), "berth-tls-cluster-e2e"};
  int runs_ = 0;
  std::unique_ptr<LockdCluster> lockd_;
  std::unique_ptr<SchedulerSet> scheds_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
};

TEST_F(TlsClusterE2ETest, JobRunsAndLogsFlowAndBadClientsAreRefused) {
  RunResult sub = scheds_->Submit(R"(
job: hello
kind: batch
batch: {completions: 2, parallelism: 2}
task:
  command: ["/bin/sh", "-c", "echo hello over tls"]
  resources: {cpu: 100m, memory: 16MiB}
)");
  ASSERT_EQ(sub.exit_code, 0) << sub.out << sub.err;
  schedpb::JobStatusResponse st;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = scheds_->Status("hello");
        if (!r.ok()) return false;
        st = *r;
        return st.record().status().state() == jobpb::JobStatus::COMPLETE;
      },
      absl::Seconds(60)))
      << st.DebugString();
  // The scheduler proxies the agent's log stream: its dial to the agent is
  // TLS too.
  RunResult logs = scheds_->Cli({"job", "logs", "hello"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_TRUE(absl::StrContains(logs.out, "hello over tls")) << logs.out;

  // The audit log names the certificate's user, proven by the handshake.
  RunResult audit = scheds_->Cli({"audit", "--output", "json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  google::protobuf::ListValue records;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(audit.out, &records).ok())
      << audit.out;
  bool submit_by_alice = false;
  for (const auto& v : records.values()) {
    const auto& f = v.struct_value().fields();
    if (f.count("method") && f.at("method").string_value() == "SubmitJob" &&
        f.count("target") && f.at("target").string_value() == "hello") {
      EXPECT_EQ(f.at("principal").string_value(), "alice") << audit.out;
      EXPECT_TRUE(f.count("authenticated") &&
                  f.at("authenticated").bool_value())
          << audit.out;
      submit_by_alice = true;
    }
  }
  EXPECT_TRUE(submit_by_alice) << "no SubmitJob of hello in\n" << audit.out;

  // What stderr must say. A plaintext client's call to a TLS scheduler
  // runs into its deadline, and the CLI gives no TLS hint for a plaintext
  // deadline (it could be anything), so only the error itself is checked.
  const std::map<std::string, std::map<std::string, std::string>> bad = {
      {"expired at",
       {{"BERTH_TLS_CERT", P("bob/cert.pem")},
        {"BERTH_TLS_KEY", P("bob/key.pem")}}},
      {"Deadline Exceeded (scheduler",
       {{"BERTH_TLS_CA", ""}, {"BERTH_TLS_CERT", ""}, {"BERTH_TLS_KEY", ""}}},
  };
  for (const auto& [names, env] : bad) {
    RunResult r = JobListAs(env);
    EXPECT_EQ(r.exit_code, 1) << names << ": " << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, names)) << r.err;
    std::cerr << "refused by the schedulers:\n" << r.err;
  }
  // The node authorizer: with agent a1's own certificate, lockd lets a
  // client rewrite a1's registration but nothing of a2's, no allocation
  // status of work not placed on a1, and no lock or election; each refusal
  // names the node, the key or command, and the rule.
  auto a1 = tls::Credentials::Load(
      {P("a1/ca.pem"), P("a1/cert.pem"), P("a1/key.pem")},
      /*need_identity=*/false);
  ASSERT_TRUE(a1.ok()) << a1.status();
  lock::ClientOptions co;
  co.credentials = a1->channel();
  absl::StatusOr<std::vector<std::string>> endpoints =
      lock::ParseEndpoints(lockd_->EndpointsFlag());
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  absl::StatusOr<std::unique_ptr<lock::Client>> as_a1 =
      lock::Client::Connect(*endpoints, co);
  ASSERT_TRUE(as_a1.ok()) << as_a1.status();
  lock::KV& kv = (*as_a1)->kv();
  absl::StatusOr<std::optional<lock::KeyValue>> own = kv.Get("/berth/nodes/a1");
  ASSERT_TRUE(own.ok() && own->has_value()) << own.status();
  lock::PutOptions same_lease;
  same_lease.lease = (*own)->lease;
  EXPECT_TRUE(kv.Put("/berth/nodes/a1", (*own)->value, same_lease).ok());
  const std::map<std::string, std::string> forged = {
      {"/berth/nodes/a2", "may not write \"/berth/nodes/a2\""},
      {"/berth/status/default.hello.9.9", "is not placed on it"},
      {"/berth/jobs/default/forged", "may not write \"/berth/jobs/"},
  };
  for (const auto& [key, why] : forged) {
    absl::StatusOr<lock::PutResult> r = kv.Put(key, "forged");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
        << key << ": " << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(),
                                  "agent certificate for node \"a1\""))
        << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), why)) << r.status();
  }
  {
    absl::StatusOr<std::unique_ptr<lock::Session>> session =
        lock::Session::Create(as_a1->get());
    ASSERT_TRUE(session.ok()) << session.status();
    lock::Mutex leader(session->get(), "/berth/scheduler/leader");
    absl::StatusOr<bool> took = leader.TryLock();
    EXPECT_EQ(took.status().code(), absl::StatusCode::kPermissionDenied)
        << took.status();
    EXPECT_TRUE(absl::StrContains(took.status().message(), "lock_acquire"))
        << took.status();
  }
  // Clients and peers share lockd's port: a1's key must not speak Raft.
  {
    auto raft = raftpb::RaftPeer::NewStub(
        grpc::CreateChannel(lockd_->Address(1), a1->channel()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    raftpb::SendAck ack;
    std::unique_ptr<grpc::ClientWriter<raftpb::MessageBatch>> w =
        raft->Send(&ctx, &ack);
    w->Write(raftpb::MessageBatch());
    w->WritesDone();
    grpc::Status st = w->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(),
                                  "this certificate is agent \"a1\""))
        << st.error_message();
  }
  absl::StatusOr<std::optional<lock::KeyValue>> a2 = kv.Get("/berth/nodes/a2");
  ASSERT_TRUE(a2.ok() && a2->has_value()) << a2.status();
  EXPECT_NE((*a2)->value, "forged");

  // The scheduler API refuses an agent's certificate for any write.
  RunResult stop = RunToExit({BerthCliBinary(), "--scheduler", scheds_->Flag(),
                              "--timeout", "5s", "job", "stop", "hello"},
                             P("stop-as-a1"), absl::Seconds(20),
                             {{"BERTH_TLS_CERT", P("a1/cert.pem")},
                              {"BERTH_TLS_KEY", P("a1/key.pem")}});
  EXPECT_EQ(stop.exit_code, 1) << stop.out << stop.err;
  EXPECT_TRUE(absl::StrContains(
      stop.err, "agent certificate for node \"a1\" may not call StopJob"))
      << stop.err;

  // A user without the right: root switches on the scheduler's namespace
  // ACLs (alice may submit, read and stop in default) and lockd's users and
  // roles (alice may read and write /app/). carol holds neither and is
  // refused by name by both; alice is refused outside her grants.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"acl", "grant", "alice", "default", "submit,read,stop"},
           {"acl", "enable"},
           {"auth", "role", "add", "app"},
           {"auth", "role", "grant", "app", "/app/", "read,write"},
           {"auth", "user", "add", "alice"},
           {"auth", "user", "grant-role", "alice", "app"},
           {"auth", "enable"}}) {
    RunResult r = As("root", args);
    ASSERT_EQ(r.exit_code, 0)
        << args[0] << " " << args[1] << ": " << r.out << r.err;
  }
  const std::vector<std::pair<std::vector<std::string>, std::string>> refused =
      {
          {{"job", "stop", "hello"},
           "user \"carol\" has no \"stop\" right in namespace \"default\""},
          {{"kv", "get", "/app/x"}, "user \"carol\" may not read \"/app/x\""},
      };
  for (const auto& [args, why] : refused) {
    RunResult r = As("carol", args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, why)) << r.err;
  }
  RunResult put = As("alice", {"kv", "put", "/app/x", "1"});
  EXPECT_EQ(put.exit_code, 0) << put.out << put.err;
  RunResult other = As("alice", {"kv", "put", "/other", "1"});
  EXPECT_EQ(other.exit_code, 1) << other.out << other.err;
  EXPECT_TRUE(
      absl::StrContains(other.err, "user \"alice\" may not write \"/other\""))
      << other.err;
  // With both on, the schedulers (lockd's built-in scheduler role) and
  // the agents (the node authorizer) still place and run alice's work.
  RunResult again = scheds_->Submit(R"(
job: again
kind: batch
task:
  command: ["/bin/true"]
  resources: {cpu: 100m, memory: 16MiB}
)");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(Completes("again"))
      << "no job completes with lockd auth and ACLs on: " << scheds_->Stderr(0)
      << scheds_->Stderr(1);

  // Everything still serves.
  for (uint64_t id : {1, 2, 3}) EXPECT_TRUE(lockd_->Running(id)) << id;
  EXPECT_TRUE(scheds_->Running(0) && scheds_->Running(1));
  RunResult list = JobListAs({});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(absl::StrContains(list.out, "hello")) << list.out;
}

std::string SchedulerCert(const std::string& addr,
                          const tls::Credentials& creds) {
  return ServedCert(addr, creds.channel(), GRPC_X509_PEM_CERT_PROPERTY_NAME,
                    [](const auto& ch, grpc::ClientContext* ctx) {
                      schedpb::LeaderResponse resp;
                      schedpb::Scheduler::NewStub(ch)->Leader(
                          ctx, schedpb::LeaderRequest(), &resp);
                    });
}

std::string AgentCert(const std::string& addr, const tls::Credentials& creds) {
  return ServedCert(addr, creds.channel(), GRPC_X509_PEM_CERT_PROPERTY_NAME,
                    [](const auto& ch, grpc::ClientContext* ctx) {
                      agentpb::LogsRequest req;
                      req.set_alloc_id("none");
                      auto reader =
                          agentpb::AgentLogs::NewStub(ch)->Logs(ctx, req);
                      agentpb::LogChunk chunk;
                      while (reader->Read(&chunk)) {
                      }
                      reader->Finish();
                    });
}

// Item 4's other two cases on the whole cluster: a user certificate from
// another CA is refused by the schedulers and by lockd, and certificates
// and CAs are replaced under the running daemons, which pick them up with
// no restart (they re-read their files every second) and go on serving.
TEST_F(TlsClusterE2ETest, AnotherCaIsRefusedAndRotationNeedsNoRestart) {
  Cert({"cert", "ca", "--out", P("ca2"), "--name", "someone else"});
  certs_.Issue("user", "mallory", "ca2");
  const std::string ca1 = ReadFileOrEmpty(P("ca/ca.pem"));
  const std::string both = ca1 + ReadFileOrEmpty(P("ca2/ca.pem"));
  ASSERT_FALSE(ca1.empty());
  // mallory-ca1 trusts the cluster's CA, so the CLI itself sees why her
  // certificate cannot work; mallory trusts both CAs, so only the
  // servers' refusal stops her.
  std::filesystem::create_directories(P("mallory-ca1"));
  for (const char* f : {"cert.pem", "key.pem"}) {
    std::filesystem::copy_file(P(absl::StrCat("mallory/", f)),
                               P(absl::StrCat("mallory-ca1/", f)));
  }
  Install("mallory-ca1/ca.pem", ca1);
  Install("mallory/ca.pem", both);
  const std::vector<std::vector<std::string>> calls = {
      {"job", "list"}, {"kv", "put", "/mallory", "1"}};
  for (const auto& args : calls) {
    RunResult hinted = As("mallory-ca1", args, "3s");
    EXPECT_EQ(hinted.exit_code, 1) << args[0] << ": " << hinted.out;
    EXPECT_TRUE(absl::StrContains(hinted.err, "is not signed by the CA in"))
        << args[0] << ": " << hinted.err;
    RunResult refused = As("mallory", args, "3s");
    EXPECT_EQ(refused.exit_code, 1) << args[0] << ": " << refused.out;
    // Her own check passes (ca.pem holds her CA), so the refusal is the
    // servers' handshake.
    EXPECT_FALSE(absl::StrContains(refused.err, "not signed by the CA"))
        << refused.err;
    std::cerr << "another CA, " << args[0] << ":\n"
              << hinted.err << refused.err;
  }
  for (uint64_t id : {1, 2, 3}) EXPECT_TRUE(lockd_->Running(id)) << id;
  RunResult good = As("alice", {"job", "list"});
  EXPECT_EQ(good.exit_code, 0) << good.err;

  // New certificates from the same CA over the schedulers' and agent a1's
  // files (same names: a1's identity is its node), each served on new
  // connections within seconds.
  auto alice = tls::Credentials::Load(
      {P("alice/ca.pem"), P("alice/cert.pem"), P("alice/key.pem")},
      /*need_identity=*/false);
  ASSERT_TRUE(alice.ok()) << alice.status();
  const std::string old_sched = SchedulerCert(scheds_->address(0), *alice);
  const std::string old_a1 = AgentCert(agents_[0]->listen(), *alice);
  ASSERT_FALSE(old_sched.empty());
  ASSERT_FALSE(old_a1.empty());
  certs_.Issue("scheduler", "sched");
  certs_.Issue("agent", "a1");
  const std::string new_sched(
      absl::StripAsciiWhitespace(ReadFileOrEmpty(P("sched/cert.pem"))));
  const std::string new_a1(
      absl::StripAsciiWhitespace(ReadFileOrEmpty(P("a1/cert.pem"))));
  ASSERT_NE(new_sched, old_sched);
  ASSERT_NE(new_a1, old_a1);
  const absl::Time t0 = absl::Now();
  for (int i : {0, 1}) {
    EXPECT_TRUE(WaitFor(
        [&] { return SchedulerCert(scheds_->address(i), *alice) == new_sched; },
        absl::Seconds(20)))
        << "scheduler " << i << " still serves its old certificate";
  }
  EXPECT_TRUE(
      WaitFor([&] { return AgentCert(agents_[0]->listen(), *alice) == new_a1; },
              absl::Seconds(20)))
      << "agent a1 still serves its old certificate";
  std::cerr << "certificate rotation picked up in " << absl::Now() - t0 << "\n";
  // Work is still placed, run and read back through the rotated
  // certificates (scheduler -> lockd, agent -> lockd, scheduler -> agent).
  RunResult sub = scheds_->Submit(R"(
job: rotated
kind: batch
batch: {completions: 2, parallelism: 2}
task:
  command: ["/bin/sh", "-c", "echo after rotation"]
  resources: {cpu: 100m, memory: 16MiB}
)");
  ASSERT_EQ(sub.exit_code, 0) << sub.out << sub.err;
  EXPECT_TRUE(Completes("rotated")) << scheds_->Stderr(0) << scheds_->Stderr(1);
  RunResult logs = scheds_->Cli({"job", "logs", "rotated"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_TRUE(absl::StrContains(logs.out, "after rotation")) << logs.out;

  // A CA rotation's first step: the schedulers and lockd trust both CAs.
  // mallory's certificate is then accepted, with no restart.
  Install("sched/ca.pem", both);
  Install("lockd/ca.pem", both);
  for (const auto& args : calls) {
    RunResult r;
    EXPECT_TRUE(WaitFor(
        [&] {
          r = As("mallory", args, "3s");
          return r.exit_code == 0;
        },
        absl::Seconds(30)))
        << args[0] << " still refused after the CA was added: " << r.err;
  }
  for (uint64_t id : {1, 2, 3}) EXPECT_TRUE(lockd_->Running(id)) << id;
  EXPECT_TRUE(scheds_->Running(0) && scheds_->Running(1));
}

// TLS is the default: each daemon given neither certificates nor
// --insecure refuses to start, saying what to give, before it serves
// anything.
TEST(TlsDefaultE2ETest, DaemonsWithoutCertificatesOrInsecureRefuseToStart) {
  const std::string dir = MakeTempDir("berth-tls-default-e2e");
  absl::StatusOr<int> base = FindFreePortBlock(3, getpid());
  ASSERT_TRUE(base.ok()) << base.status();
  auto at = [&](int i) { return absl::StrCat("127.0.0.1:", *base + i); };
  // Nor may the environment give them TLS.
  const std::map<std::string, std::string> no_tls_env = {
      {"BERTH_TLS_CA", ""}, {"BERTH_TLS_CERT", ""}, {"BERTH_TLS_KEY", ""}};
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"lockd",
       {LockdBinary(), "--id=1", "--listen=" + at(0), "--data-dir=" + dir,
        "--metrics-listen=off"}},
      {"scheduler",
       {SchedulerBinary(), "--lock-endpoints", at(0), "--id", "s1", "--listen",
        at(1), "--metrics-listen=off"}},
      {"agent",
       {AgentBinary(), "--lock-endpoints", at(0), "--node-id", "n1", "--listen",
        at(2), "--data-dir", dir + "/agent", "--runtime", "process"}}};
  for (const auto& [name, argv] : runs) {
    RunResult r = RunToExit(argv, absl::StrCat(dir, "/", name),
                            absl::Seconds(30), no_tls_env);
    EXPECT_EQ(r.exit_code, 2) << name << " did not refuse: " << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "no TLS certificate: give --tls-ca"))
        << name << ": " << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "or --insecure to serve plaintext"))
        << name << ": " << r.err;
  }
}

}  // namespace
}  // namespace berth::e2e
