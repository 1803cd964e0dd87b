// Shared by the TLS e2e tests: the daemons' and CLI's TLS flags for a
// certificate directory written by `berth cert`, and running `berth cert`.
#ifndef BERTH_TESTS_E2E_TLS_TEST_UTIL_H_
#define BERTH_TESTS_E2E_TLS_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/auth_context.h"
#include "gtest/gtest.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {

// --tls-ca/--tls-cert/--tls-key for the files `berth cert` wrote in `dir`.
inline std::vector<std::string> TlsFlags(const std::string& dir) {
  return {absl::StrCat("--tls-ca=", dir, "/ca.pem"),
          absl::StrCat("--tls-cert=", dir, "/cert.pem"),
          absl::StrCat("--tls-key=", dir, "/key.pem")};
}

// `cli args...` (a `berth cert ...` command), logged under `log_prefix`.
inline RunResult RunCertCli(const std::string& cli,
                            const std::vector<std::string>& args,
                            const std::string& log_prefix) {
  std::vector<std::string> argv = {cli};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunToExit(argv, log_prefix, absl::Seconds(20));
}

// A test's scratch directory: certificates `berth cert` writes there, and
// the logs of the CLI runs. Removed with the object, so a fixture holding
// it as a member removes it only after its TearDown stopped the daemons.
class CertDir {
 public:
  CertDir(std::string cli, const std::string& prefix)
      : cli_(std::move(cli)), dir_(MakeTempDir(prefix)) {}
  ~CertDir() { std::filesystem::remove_all(dir_); }
  CertDir(const CertDir&) = delete;
  CertDir& operator=(const CertDir&) = delete;

  // `rel` inside the directory.
  std::string P(const std::string& rel) const {
    return absl::StrCat(dir_, "/", rel);
  }
  // `berth ARGS...` (a `berth cert ...` command); a failure fails the test.
  void Cert(const std::vector<std::string>& args) const {
    RunResult r = RunCertCli(cli_, args, P("cert-cli"));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // A `kind` certificate for `name` from the CA in `ca`, written to
  // P(out), by default P(name).
  void Issue(const std::string& kind, const std::string& name,
             const std::string& ca = "ca", std::string out = "") const {
    if (out.empty()) out = name;
    Cert({"cert", "issue", "--ca", P(ca), "--kind", kind, "--name", name,
          "--out", P(out)});
  }

 private:
  std::string cli_;
  std::string dir_;
};

// The environment that makes the `berth` CLI dial with the certificate
// `berth cert` wrote in `dir`.
inline std::map<std::string, std::string> TlsEnv(const std::string& dir) {
  return {{"BERTH_TLS_CA", absl::StrCat(dir, "/ca.pem")},
          {"BERTH_TLS_CERT", absl::StrCat(dir, "/cert.pem")},
          {"BERTH_TLS_KEY", absl::StrCat(dir, "/key.pem")}};
}

// Makes every CLI run of this process (and of the harnesses it starts)
// dial with `dir`'s certificate, or, with "", with none.
inline void SetCliTls(const std::string& dir) {
  for (const auto& [name, value] : TlsEnv(dir)) {
    if (dir.empty()) {
      unsetenv(name.c_str());
    } else {
      setenv(name.c_str(), value.c_str(), 1);
    }
  }
}

// `berth GLOBAL... ARGS...` with the certificate in `cert_dir`, logged
// under `log_prefix`.
inline RunResult RunCliWithCert(const std::string& cli,
                                const std::string& cert_dir,
                                std::vector<std::string> global,
                                const std::vector<std::string>& args,
                                const std::string& log_prefix) {
  std::vector<std::string> argv = {cli};
  argv.insert(argv.end(), global.begin(), global.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return RunToExit(argv, log_prefix, absl::Seconds(40), TlsEnv(cert_dir));
}

// A property (GRPC_X509_CN_PROPERTY_NAME, GRPC_X509_PEM_CERT_PROPERTY_NAME)
// of the certificate the server at `addr` presents on a new connection (its
// own subchannel pool, so none is reused), dialling with `creds`; "" if no
// handshake happened. `call` makes any RPC on the channel: its status does
// not matter, only that the handshake ran.
inline std::string ServedCert(
    const std::string& addr,
    const std::shared_ptr<grpc::ChannelCredentials>& creds,
    const char* property,
    const std::function<void(const std::shared_ptr<grpc::Channel>&,
                             grpc::ClientContext*)>& call) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> ch =
      grpc::CreateCustomChannel(addr, creds, args);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
  // Keep polling while the TLS handshake runs (see lockd_harness.cc).
  ctx.set_wait_for_ready(true);
  call(ch, &ctx);
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr) return "";
  for (const auto& v : auth->FindPropertyValues(property)) {
    return std::string(absl::StripAsciiWhitespace({v.data(), v.size()}));
  }
  return "";
}

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_TLS_TEST_UTIL_H_
