// Shared by the TLS e2e tests: the daemons' and CLI's TLS flags for a
// certificate directory written by `berth cert`, and running `berth cert`.
#ifndef BERTH_TESTS_E2E_TLS_TEST_UTIL_H_
#define BERTH_TESTS_E2E_TLS_TEST_UTIL_H_

#include <stdlib.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
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

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_TLS_TEST_UTIL_H_
