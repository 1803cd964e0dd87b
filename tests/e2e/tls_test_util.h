// Shared by the TLS e2e tests: the daemons' and CLI's TLS flags for a
// certificate directory written by `berth cert`, and running `berth cert`.
#ifndef BERTH_TESTS_E2E_TLS_TEST_UTIL_H_
#define BERTH_TESTS_E2E_TLS_TEST_UTIL_H_

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

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_TLS_TEST_UTIL_H_
