#include "common/tls/credentials.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tls/x509.h"

namespace berth::tls {
namespace {

namespace gx = grpc::experimental;

// How often the providers re-read the files: three small files a second is
// cheap, and a rotation is picked up within about a second.
constexpr unsigned kRefreshSeconds = 1;

}  // namespace

std::shared_ptr<grpc::ServerCredentials> Credentials::server() const {
  return server_ != nullptr ? server_ : grpc::InsecureServerCredentials();
}

std::shared_ptr<grpc::ChannelCredentials> Credentials::channel() const {
  return channel_ != nullptr ? channel_ : grpc::InsecureChannelCredentials();
}

absl::StatusOr<Credentials> Credentials::Load(const TlsFiles& files,
                                              bool need_identity) {
  if (files.ca.empty()) {
    return absl::InvalidArgumentError(
        "--tls-ca is required with --tls-cert/--tls-key");
  }
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (need_identity && files.cert.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key are required with --tls-ca");
  }
  if (need_identity) {
    // A daemon must not start with a certificate no peer will accept.
    if (absl::Status s =
            CheckCertFiles(files.ca, files.cert, files.key, absl::Now());
        !s.ok()) {
      return s;
    }
  } else {
    for (const std::string& path : {files.ca, files.cert}) {
      if (path.empty()) continue;
      if (auto info = ReadCertInfo(path); !info.ok()) return info.status();
    }
  }
  // gRPC's TLS credentials with a file-watching provider: the files are
  // re-read every kRefreshSeconds, so a rotated CA, certificate or key is
  // used by new handshakes without a restart. The server and the dialer
  // each get their own provider.
  auto provider =
      [&files]() -> std::shared_ptr<gx::CertificateProviderInterface> {
    if (files.cert.empty()) {
      return std::make_shared<gx::FileWatcherCertificateProvider>(
          files.ca, kRefreshSeconds);
    }
    return std::make_shared<gx::FileWatcherCertificateProvider>(
        files.key, files.cert, files.ca, kRefreshSeconds);
  };
  Credentials c;
  c.secure_ = true;
  c.files_ = files;
  gx::TlsChannelCredentialsOptions copts;
  copts.set_certificate_provider(provider());
  copts.watch_root_certs();
  if (!files.cert.empty()) copts.watch_identity_key_cert_pairs();
  c.channel_ = gx::TlsCredentials(copts);
  if (!files.cert.empty()) {
    gx::TlsServerCredentialsOptions sopts(provider());
    sopts.watch_root_certs();
    sopts.watch_identity_key_cert_pairs();
    sopts.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    c.server_ = gx::TlsServerCredentials(sopts);
  }
  if (c.channel_ == nullptr || (!files.cert.empty() && c.server_ == nullptr)) {
    return absl::InternalError("gRPC refused the TLS credentials");
  }
  return c;
}

std::string Credentials::Describe() const {
  if (!secure_) return "plaintext (no TLS)";
  return absl::StrCat("mutual TLS (CA ", files_.ca, ", certificate ",
                      files_.cert.empty() ? "none" : files_.cert, ")");
}

absl::StatusOr<Credentials> DaemonCredentials(const TlsFiles& files,
                                              bool insecure) {
  if (insecure) {
    if (!files.empty()) {
      return absl::InvalidArgumentError(
          "--insecure and the --tls-* flags exclude each other");
    }
    return Credentials::Insecure();
  }
  if (files.empty()) {
    return absl::FailedPreconditionError(
        "no TLS certificate: give --tls-ca, --tls-cert and --tls-key (or "
        "BERTH_TLS_CA, BERTH_TLS_CERT and BERTH_TLS_KEY; `berth cert` makes "
        "them), or --insecure to serve plaintext, where anyone who reaches "
        "the port can do anything (docs/security.md)");
  }
  return Credentials::Load(files, /*need_identity=*/true);
}

std::string DiagnoseClient(const Credentials& credentials) {
  if (!credentials.secure()) {
    return "this client dials without TLS; if the cluster uses TLS give "
           "--tls-ca, --tls-cert and --tls-key (or BERTH_TLS_CA, "
           "BERTH_TLS_CERT, BERTH_TLS_KEY)";
  }
  const TlsFiles& f = credentials.files();
  if (f.cert.empty()) {
    return "no client certificate: the servers require one (--tls-cert and "
           "--tls-key, or BERTH_TLS_CERT and BERTH_TLS_KEY)";
  }
  absl::Status s = CheckCertFiles(f.ca, f.cert, f.key, absl::Now());
  if (!s.ok()) return std::string(s.message());
  return "";
}

}  // namespace berth::tls
