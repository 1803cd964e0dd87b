// The TLS flags every berth daemon takes, with the environment as default:
//   --tls-ca (BERTH_TLS_CA), --tls-cert (BERTH_TLS_CERT),
//   --tls-key (BERTH_TLS_KEY), --insecure.
// TLS is opt-in: with none of them a daemon serves plaintext, as before.
//
// Thread safety: call from main before starting threads (reads getenv).
#ifndef BERTH_COMMON_TLS_TLS_FLAGS_H_
#define BERTH_COMMON_TLS_TLS_FLAGS_H_

#include "absl/status/statusor.h"
#include "boost/program_options.hpp"
#include "common/tls/credentials.h"

namespace berth::tls {

struct TlsFlags {
  TlsFiles files;
  bool insecure = false;
};

// Adds the four flags to `desc`, writing into `flags`.
void AddTlsFlags(boost::program_options::options_description* desc,
                 TlsFlags* flags);

// After parsing: fills unset paths from BERTH_TLS_* (unless --insecure) and
// picks the daemon's credentials (DaemonCredentials).
absl::StatusOr<Credentials> DaemonCredentialsFromFlags(TlsFlags flags);

// The same environment defaults, for clients.
TlsFiles WithEnvironment(TlsFiles files);

}  // namespace berth::tls

#endif  // BERTH_COMMON_TLS_TLS_FLAGS_H_
