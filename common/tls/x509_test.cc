#include "common/tls/x509.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::tls {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class X509Test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/x509_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string P(const std::string& rel) const { return dir_ + "/" + rel; }
  std::string dir_;
};

TEST_F(X509Test, IssuedCertificateChainsToItsCa) {
  ASSERT_TRUE(WriteCa(P("ca"), "test CA", absl::Hours(24)).ok());
  IssueRequest req;
  req.kind = CertKind::kAgent;
  req.name = "node-7";
  req.hosts = {"127.0.0.1", "node-7.example"};
  ASSERT_TRUE(Issue(P("ca"), req, P("node-7")).ok());
  EXPECT_TRUE(CheckCertFiles(P("node-7/ca.pem"), P("node-7/cert.pem"),
                             P("node-7/key.pem"), absl::Now())
                  .ok());
  auto info = ReadCertInfo(P("node-7/cert.pem"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "node-7");
  EXPECT_EQ(info->kind, "agent");
  EXPECT_THAT(info->hosts, ElementsAre("127.0.0.1", "node-7.example"));
  EXPECT_LT(info->not_after - absl::Now(), absl::Hours(24 * 366));
}

TEST_F(X509Test, CertificateFromAnotherCaIsNamedAsSuch) {
  ASSERT_TRUE(WriteCa(P("ca1"), "one", absl::Hours(24)).ok());
  ASSERT_TRUE(WriteCa(P("ca2"), "two", absl::Hours(24)).ok());
  IssueRequest req;
  req.kind = CertKind::kUser;
  req.name = "alice";
  ASSERT_TRUE(Issue(P("ca2"), req, P("alice")).ok());
  absl::Status s = CheckCertFiles(P("ca1/ca.pem"), P("alice/cert.pem"),
                                  P("alice/key.pem"), absl::Now());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("not signed by the CA in"));
}

// Mid-rotation a ca.pem holds two CAs; a certificate of the second one
// checks out against it (a daemon restarted then must still start).
TEST_F(X509Test, CaFileWithTwoCasAcceptsCertificatesOfEither) {
  ASSERT_TRUE(WriteCa(P("ca1"), "one", absl::Hours(24)).ok());
  ASSERT_TRUE(WriteCa(P("ca2"), "two", absl::Hours(24)).ok());
  IssueRequest req;
  req.kind = CertKind::kUser;
  for (const char* ca : {"ca1", "ca2"}) {
    req.name = ca;
    ASSERT_TRUE(Issue(P(ca), req, P(absl::StrCat("user-", ca))).ok());
  }
  const std::string both = P("both.pem");
  const std::string cat = absl::StrCat("cat '", P("ca1/ca.pem"), "' '",
                                       P("ca2/ca.pem"), "' > '", both, "'");
  ASSERT_EQ(std::system(cat.c_str()), 0);
  for (const char* ca : {"ca1", "ca2"}) {
    const std::string dir = P(absl::StrCat("user-", ca));
    EXPECT_TRUE(
        CheckCertFiles(both, dir + "/cert.pem", dir + "/key.pem", absl::Now())
            .ok())
        << ca;
  }
}

TEST_F(X509Test, ExpiredCertificateSaysWhen) {
  ASSERT_TRUE(WriteCa(P("ca"), "test CA", absl::Hours(24 * 10)).ok());
  IssueRequest req;
  req.kind = CertKind::kUser;
  req.name = "bob";
  req.not_before = absl::Now() - absl::Hours(48);
  req.validity = absl::Hours(24);
  ASSERT_TRUE(Issue(P("ca"), req, P("bob")).ok());
  absl::Status s = CheckCertFiles(P("ca/ca.pem"), P("bob/cert.pem"),
                                  P("bob/key.pem"), absl::Now());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("expired at"));
}

TEST_F(X509Test, MismatchedKeyAndMissingFilesAreNamed) {
  ASSERT_TRUE(WriteCa(P("ca"), "test CA", absl::Hours(24)).ok());
  IssueRequest req;
  req.name = "a";
  ASSERT_TRUE(Issue(P("ca"), req, P("a")).ok());
  req.name = "b";
  ASSERT_TRUE(Issue(P("ca"), req, P("b")).ok());
  absl::Status s = CheckCertFiles(P("ca/ca.pem"), P("a/cert.pem"),
                                  P("b/key.pem"), absl::Now());
  EXPECT_THAT(s.message(), HasSubstr("does not match"));
  s = CheckCertFiles(P("ca/ca.pem"), P("nope.pem"), P("b/key.pem"),
                     absl::Now());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("nope.pem"));
}

TEST_F(X509Test, BadRequestsAreRefused) {
  ASSERT_TRUE(WriteCa(P("ca"), "test CA", absl::Hours(24)).ok());
  IssueRequest req;
  EXPECT_FALSE(Issue(P("ca"), req, P("x")).ok());  // no name
  req.name = "x";
  req.validity = absl::ZeroDuration();
  EXPECT_FALSE(Issue(P("ca"), req, P("x")).ok());
  EXPECT_FALSE(ParseCertKind("root").ok());
  EXPECT_EQ(*ParseCertKind("scheduler"), CertKind::kScheduler);
}

}  // namespace
}  // namespace berth::tls
