#include "common/tls/credentials.h"

#include <stdlib.h>

#include <string>

#include "absl/time/clock.h"
#include "common/tls/tls_flags.h"
#include "common/tls/x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::tls {
namespace {

using ::testing::HasSubstr;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/credentials_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(WriteCa(dir_ + "/ca", "test CA", absl::Hours(24)).ok());
    IssueRequest req;
    req.name = "lockd-1";
    req.hosts = {"127.0.0.1"};
    ASSERT_TRUE(Issue(dir_ + "/ca", req, dir_ + "/s").ok());
    req.name = "old";
    req.not_before = absl::Now() - absl::Hours(48);
    req.validity = absl::Hours(24);
    ASSERT_TRUE(Issue(dir_ + "/ca", req, dir_ + "/old").ok());
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  TlsFiles Files(const std::string& sub) const {
    return {dir_ + "/" + sub + "/ca.pem", dir_ + "/" + sub + "/cert.pem",
            dir_ + "/" + sub + "/key.pem"};
  }
  std::string dir_;
};

TEST_F(CredentialsTest, NoFlagsIsRefusedWithWhatToGive) {
  auto refused = DaemonCredentials(TlsFiles(), /*insecure=*/false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("no TLS certificate"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--tls-cert"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--insecure"));
  // Nor does the environment-reading entry point fall back to plaintext.
  EXPECT_FALSE(DaemonCredentialsFromFlags(TlsFlags()).ok());
}

TEST_F(CredentialsTest, InsecureMeansPlaintext) {
  auto c = DaemonCredentials(TlsFiles(), /*insecure=*/true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->secure());
  EXPECT_NE(c->server(), nullptr);
  EXPECT_NE(c->channel(), nullptr);
  EXPECT_THAT(c->Describe(), HasSubstr("plaintext"));
}

TEST_F(CredentialsTest, ValidFilesGiveMutualTls) {
  auto c = DaemonCredentials(Files("s"), /*insecure=*/false);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->secure());
  EXPECT_THAT(c->Describe(), HasSubstr("mutual TLS"));
  EXPECT_EQ(DiagnoseClient(*c), "");
}

TEST_F(CredentialsTest, InsecureAndTlsFlagsExcludeEachOther) {
  auto c = DaemonCredentials(Files("s"), /*insecure=*/true);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("--insecure"));
}

TEST_F(CredentialsTest, DaemonNeedsAllThreeFilesAndAValidCertificate) {
  TlsFiles only_ca = {Files("s").ca, "", ""};
  EXPECT_THAT(DaemonCredentials(only_ca, false).status().message(),
              HasSubstr("--tls-cert and --tls-key are required"));
  TlsFiles no_key = Files("s");
  no_key.key.clear();
  EXPECT_THAT(DaemonCredentials(no_key, false).status().message(),
              HasSubstr("go together"));
  // An expired certificate stops a daemon at start, by name.
  auto old = DaemonCredentials(Files("old"), false);
  EXPECT_EQ(old.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(old.status().message(), HasSubstr("expired at"));
}

TEST_F(CredentialsTest, ClientMayGoWithoutCertificateAndIsToldWhy) {
  auto c = Credentials::Load({Files("s").ca, "", ""},
                             /*need_identity=*/false);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(DiagnoseClient(*c), HasSubstr("no client certificate"));
  // An expired client certificate is sent anyway (the server refuses it);
  // the diagnosis names the expiry.
  auto old = Credentials::Load(Files("old"), /*need_identity=*/false);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_THAT(DiagnoseClient(*old), HasSubstr("expired at"));
  EXPECT_THAT(DiagnoseClient(Credentials::Insecure()),
              HasSubstr("without TLS"));
}

TEST_F(CredentialsTest, EnvironmentFillsUnsetFlagsButNotInsecure) {
  ASSERT_EQ(setenv("BERTH_TLS_CA", Files("s").ca.c_str(), 1), 0);
  ASSERT_EQ(setenv("BERTH_TLS_CERT", Files("s").cert.c_str(), 1), 0);
  ASSERT_EQ(setenv("BERTH_TLS_KEY", Files("s").key.c_str(), 1), 0);
  auto from_env = DaemonCredentialsFromFlags(TlsFlags());
  TlsFlags insecure;
  insecure.insecure = true;
  auto plain = DaemonCredentialsFromFlags(insecure);
  unsetenv("BERTH_TLS_CA");
  unsetenv("BERTH_TLS_CERT");
  unsetenv("BERTH_TLS_KEY");
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_TRUE(from_env->secure());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->secure());
}

}  // namespace
}  // namespace berth::tls
