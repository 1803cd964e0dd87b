#include "common/tls/tls_flags.h"

#include <cstdlib>
#include <string>

namespace berth::tls {

namespace po = boost::program_options;

void AddTlsFlags(po::options_description* desc, TlsFlags* flags) {
  desc->add_options()(
      "tls-ca", po::value(&flags->files.ca),
      "PEM file of the CA that signs every berth certificate; with it, serve "
      "and dial mutual TLS and require peers to present a certificate it "
      "signed (env BERTH_TLS_CA; docs/security.md)")(
      "tls-cert", po::value(&flags->files.cert),
      "PEM certificate this process serves and dials with (`berth cert "
      "issue`; env BERTH_TLS_CERT)")(
      "tls-key", po::value(&flags->files.key),
      "PEM private key of --tls-cert (env BERTH_TLS_KEY)")(
      "insecure", po::bool_switch(&flags->insecure),
      "serve and dial plaintext, ignoring BERTH_TLS_*: anyone who reaches "
      "the port can do anything. Without it a daemon needs the --tls-* "
      "files");
}

TlsFiles WithEnvironment(TlsFiles files) {
  auto fill = [](std::string* v, const char* env) {
    const char* e = std::getenv(env);
    if (v->empty() && e != nullptr) *v = e;
  };
  fill(&files.ca, "BERTH_TLS_CA");
  fill(&files.cert, "BERTH_TLS_CERT");
  fill(&files.key, "BERTH_TLS_KEY");
  return files;
}

std::vector<std::string> LocalDaemonTlsFlags() {
  if (!WithEnvironment(TlsFiles()).empty()) return {};
  return {"--insecure"};
}

absl::StatusOr<Credentials> DaemonCredentialsFromFlags(TlsFlags flags) {
  if (!flags.insecure) flags.files = WithEnvironment(flags.files);
  return DaemonCredentials(flags.files, flags.insecure);
}

}  // namespace berth::tls
