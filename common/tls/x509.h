// Certificates for berth's mutual TLS, through OpenSSL's libcrypto: a CA,
// certificates it issues, and the checks that turn a failed handshake into
// a message naming the problem (expired, wrong CA, key mismatch).
//
// Layout on disk (what `berth cert` writes and the --tls-* flags read):
//   CA dir:     ca.pem, ca-key.pem (0600)
//   issued dir: ca.pem (a copy), cert.pem, key.pem (0600)
//
// Thread safety: stateless functions.
#ifndef BERTH_COMMON_TLS_X509_H_
#define BERTH_COMMON_TLS_X509_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::tls {

// Who a certificate is for. The kind goes into the subject's OU and picks
// the extended key usages: user certificates are client-only, the others
// both serve and dial.
enum class CertKind { kServer, kAgent, kScheduler, kUser };
absl::StatusOr<CertKind> ParseCertKind(const std::string& text);
const char* CertKindName(CertKind kind);

struct IssueRequest {
  CertKind kind = CertKind::kServer;
  // The node id or user name: the subject CN.
  std::string name;
  // IP addresses and DNS names for the subjectAltName. Dialers check the
  // address they dial against these.
  std::vector<std::string> hosts;
  absl::Time not_before = absl::Now() - absl::Minutes(5);
  absl::Duration validity = absl::Hours(24 * 365);
};

// Writes a new CA (EC P-256 key, self-signed) into `dir`.
absl::Status WriteCa(const std::string& dir, const std::string& name,
                     absl::Duration validity);

// Issues a certificate signed by the CA in `ca_dir` and writes ca.pem,
// cert.pem and key.pem into `out_dir`.
absl::Status Issue(const std::string& ca_dir, const IssueRequest& request,
                   const std::string& out_dir);

struct CertInfo {
  std::string common_name;
  std::string kind;  // the subject OU
  std::vector<std::string> hosts;
  absl::Time not_before;
  absl::Time not_after;
};
absl::StatusOr<CertInfo> ReadCertInfo(const std::string& cert_path);

// Checks that cert_path and key_path are a readable pair, that the
// certificate chains to the CA in ca_path and that it is valid at `now`.
// Errors name the file and the problem.
absl::Status CheckCertFiles(const std::string& ca_path,
                            const std::string& cert_path,
                            const std::string& key_path, absl::Time now);

}  // namespace berth::tls

#endif  // BERTH_COMMON_TLS_X509_H_
