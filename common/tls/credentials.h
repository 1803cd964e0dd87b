// The one place that chooses gRPC credentials for berth's listeners and
// dialers: mutual TLS from PEM files, or plaintext.
//
// Mutual TLS: every listener demands a client certificate signed by the CA
// (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY), and every
// dialer checks that the server's certificate is signed by the CA and names
// the address it dials (subjectAltName). The files are watched: a replaced
// CA, certificate or key is used by new handshakes within about a second,
// with no restart (write the new files beside the old ones and rename them
// into place; `berth cert issue` does that).
//
// Thread safety: Credentials is an immutable value; copies share the gRPC
// credentials and may be used from any thread.
#ifndef BERTH_COMMON_TLS_CREDENTIALS_H_
#define BERTH_COMMON_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace berth::tls {

// The --tls-ca, --tls-cert and --tls-key flags.
struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
};

// Default-constructed: plaintext both ways.
class Credentials {
 public:
  static Credentials Insecure() { return Credentials(); }
  // Mutual TLS. A daemon needs all three files (`need_identity`) and they
  // must be a valid pair, signed by the CA and valid now, so that a bad
  // path or an expired certificate fails at start, by name. A client may
  // go without a certificate and key, and its files are only checked for
  // being readable PEM: the server's refusal is what the user should see.
  static absl::StatusOr<Credentials> Load(const TlsFiles& files,
                                          bool need_identity);

  bool secure() const { return secure_; }
  const TlsFiles& files() const { return files_; }
  // "mutual TLS (CA <path>, certificate <path>)" or "plaintext (no TLS)".
  std::string Describe() const;

  // Never null: plaintext credentials when not secure().
  std::shared_ptr<grpc::ServerCredentials> server() const;
  std::shared_ptr<grpc::ChannelCredentials> channel() const;

 private:
  bool secure_ = false;
  TlsFiles files_;
  std::shared_ptr<grpc::ServerCredentials> server_;
  std::shared_ptr<grpc::ChannelCredentials> channel_;
};

// A daemon's choice from its flags: mutual TLS when any --tls-* file is
// given; plaintext only with --insecure, which excludes the --tls-* flags.
// Neither is an error: a daemon does not fall back to plaintext unasked.
absl::StatusOr<Credentials> DaemonCredentials(const TlsFiles& files,
                                              bool insecure);

// Why a dial to a TLS server likely failed, read from the client's own
// files: no TLS configured, no certificate, an expired certificate, one not
// signed by the CA, a key that does not match. "" when the files look right.
std::string DiagnoseClient(const Credentials& credentials);

}  // namespace berth::tls

#endif  // BERTH_COMMON_TLS_CREDENTIALS_H_
