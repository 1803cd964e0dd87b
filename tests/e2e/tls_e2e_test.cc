// Mutual TLS end to end (issue #16 items 1 and 4): three berth-lockd
// replicas started with certificates from `berth cert` (client port and
// Raft peer port both TLS), driven through the real CLI. A client with a
// good certificate works; one without TLS, without a certificate, with one
// from another CA or with an expired one is refused with a message naming
// the problem, and the replicas go on serving. A server certificate
// replaced on disk is served without a restart.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tls/credentials.h"
#include "common/tls/x509.h"
#include "gtest/gtest.h"
#include "proto/lock.grpc.pb.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"
#include "tests/e2e/tls_test_util.h"

#ifndef BERTH_CLI_BIN
#error "BERTH_CLI_BIN must name the berth binary"
#endif

namespace berth::e2e {
namespace {

class TlsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    Cert({"cert", "ca", "--out", P("ca")});
    Cert({"cert", "ca", "--out", P("ca2"), "--name", "someone else"});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "server", "--name",
          "lockd", "--host", "127.0.0.1", "--out", P("lockd")});
    Cert({"cert", "issue", "--ca", P("ca"), "--kind", "user", "--name", "alice",
          "--out", P("alice")});
    Cert({"cert", "issue", "--ca", P("ca2"), "--kind", "user", "--name",
          "mallory", "--out", P("mallory")});
    // `berth cert` issues only certificates valid from now; an expired one
    // comes from the same library.
    tls::IssueRequest old;
    old.kind = tls::CertKind::kUser;
    old.name = "bob";
    old.not_before = absl::Now() - absl::Hours(48);
    old.validity = absl::Hours(24);
    ASSERT_TRUE(tls::Issue(P("ca"), old, P("bob")).ok());

    auto alice = tls::Credentials::Load(
        {P("alice/ca.pem"), P("alice/cert.pem"), P("alice/key.pem")},
        /*need_identity=*/false);
    ASSERT_TRUE(alice.ok()) << alice.status();
    alice_ = *alice;
    lockd_ = std::make_unique<LockdCluster>(3, TlsFlags(P("lockd")));
    // The harness's leader probe dials with a good client certificate.
    lockd_->set_credentials(alice_.channel());
    ASSERT_TRUE(lockd_->StartAll().ok());
    ASSERT_NE(lockd_->AwaitLeader(), 0u) << "no leader over TLS";
  }

  void TearDown() override { lockd_.reset(); }

  std::string P(const std::string& rel) const { return certs_.P(rel); }

  void Cert(const std::vector<std::string>& args) { certs_.Cert(args); }

  // `berth kv put` against the replicas with the given global flags.
  RunResult Put(const std::vector<std::string>& tls_flags,
                const std::string& value) {
    std::vector<std::string> argv = {BERTH_CLI_BIN, "--lock-endpoints",
                                     lockd_->EndpointsFlag(), "--timeout",
                                     "2s"};
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    argv.insert(argv.end(), {"kv", "put", "/tls-e2e/k", value});
    return RunToExit(argv, P("put"), absl::Seconds(20));
  }

  RunResult Get(const std::vector<std::string>& tls_flags) {
    std::vector<std::string> argv = {BERTH_CLI_BIN, "--lock-endpoints",
                                     lockd_->EndpointsFlag(), "--timeout",
                                     "2s"};
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    argv.insert(argv.end(), {"kv", "get", "/tls-e2e/k"});
    return RunToExit(argv, P("get"), absl::Seconds(20));
  }

  // The CN of the certificate replica `id` presents on a new connection
  // (its own subchannel pool, so no connection is reused); "" on failure.
  std::string ServedName(uint64_t id) {
    return ServedCert(lockd_->Address(id), alice_.channel(),
                      GRPC_X509_CN_PROPERTY_NAME,
                      [](const auto& ch, grpc::ClientContext* ctx) {
                        lockpb::StatusResponse resp;
                        lockpb::Cluster::NewStub(ch)->Status(
                            ctx, lockpb::StatusRequest(), &resp);
                      });
  }

  CertDir certs_{BERTH_CLI_BIN, "berth-tls-e2e"};
  tls::Credentials alice_;
  std::unique_ptr<LockdCluster> lockd_;
};

TEST_F(TlsE2ETest, GoodClientWorksAndBadClientsAreRefusedByName) {
  // Writes commit, so the Raft peer port works over TLS too.
  RunResult put = Put(TlsFlags(P("alice")), "v1");
  ASSERT_EQ(put.exit_code, 0) << put.out << put.err;

  struct Case {
    std::string what;
    std::vector<std::string> flags;
    std::string names;  // what the hint must say
  };
  const std::vector<Case> cases = {
      {"no TLS at all", {}, "dials without TLS"},
      {"no client certificate",
       {absl::StrCat("--tls-ca=", P("ca/ca.pem"))},
       "no client certificate"},
      {"a certificate from another CA",
       {absl::StrCat("--tls-ca=", P("ca/ca.pem")),
        absl::StrCat("--tls-cert=", P("mallory/cert.pem")),
        absl::StrCat("--tls-key=", P("mallory/key.pem"))},
       "is not signed by the CA in"},
      {"an expired certificate", TlsFlags(P("bob")), "expired at"},
  };
  for (const Case& c : cases) {
    const absl::Time t0 = absl::Now();
    RunResult r = Put(c.flags, "refused");
    EXPECT_EQ(r.exit_code, 1) << c.what << ": " << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, c.names)) << c.what << ": " << r.err;
    std::cerr << c.what << ": refused in " << absl::Now() - t0 << ":\n"
              << r.err;
    // The replicas go on serving the good client, and the refused write
    // did not happen.
    for (uint64_t id : {1, 2, 3}) EXPECT_TRUE(lockd_->Running(id)) << id;
    RunResult get = Get(TlsFlags(P("alice")));
    EXPECT_EQ(get.exit_code, 0) << c.what << ": " << get.err;
    EXPECT_TRUE(absl::StrContains(get.out, "v1")) << c.what << ": " << get.out;
  }
  RunResult again = Put(TlsFlags(P("alice")), "v2");
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST_F(TlsE2ETest, ReplacedServerCertificateIsServedWithoutRestart) {
  for (uint64_t id : {1, 2, 3}) ASSERT_EQ(ServedName(id), "lockd") << id;
  // A new certificate from the same CA, written over the replicas' files.
  Cert({"cert", "issue", "--ca", P("ca"), "--kind", "server", "--name",
        "lockd-rotated", "--host", "127.0.0.1", "--out", P("lockd")});
  const absl::Time t0 = absl::Now();
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_TRUE(WaitFor([&] { return ServedName(id) == "lockd-rotated"; },
                        absl::Seconds(15)))
        << "replica " << id << " still serves " << ServedName(id);
    EXPECT_TRUE(lockd_->Running(id));
  }
  std::cerr << "rotation picked up in " << absl::Now() - t0 << "\n";
  // The replicas still reach each other and serve clients.
  RunResult r = Put(TlsFlags(P("alice")), "after-rotation");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(lockd_->AwaitLeader(), 0u);
}

}  // namespace
}  // namespace berth::e2e
